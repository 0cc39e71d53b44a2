package dataset

// Shared is what two sets of dogs have in common: the dogs of b whose folder
// name is among a's, and the photos of b whose content (sha256) is among a's,
// whatever dog either is filed under. Names alone miss a photo filed under
// two dogs; content alone misses a dog renamed between folders.
func Shared(aDogs, aPhotoSHA256 []string, bDogs []string, bPhotos []Photo) (dogs []string, photos []Photo) {
	names := make(map[string]bool, len(aDogs))
	for _, d := range aDogs {
		names[d] = true
	}
	for _, d := range bDogs {
		if names[d] {
			dogs = append(dogs, d)
		}
	}
	shas := make(map[string]bool, len(aPhotoSHA256))
	for _, s := range aPhotoSHA256 {
		shas[s] = true
	}
	for _, ph := range bPhotos {
		if shas[ph.SHA256] {
			photos = append(photos, ph)
		}
	}
	return dogs, photos
}
