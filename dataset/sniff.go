package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"unicode/utf8"
)

// maxPixels rejects images whose decode would need absurd memory (a 16k x 16k
// photo is ~1 GiB as RGBA); face crops are far smaller.
const maxPixels = 1 << 28

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// inspection is what Load learns about one file: a photo or a skip reason.
type inspection struct {
	sha256, format string
	reason         string // non-empty when the file is skipped
}

func inspectFile(path string) inspection {
	b, err := os.ReadFile(path)
	if err != nil {
		return inspection{reason: "unreadable: " + err.Error()}
	}
	format, reason := sniff(b)
	if reason == "" {
		reason = validate(b, format)
	}
	if reason != "" {
		return inspection{reason: reason}
	}
	sum := sha256.Sum256(b)
	return inspection{sha256: hex.EncodeToString(sum[:]), format: format}
}

// sniff names the format from magic bytes: "jpeg" or "png", or a reason the
// content is not usable.
func sniff(b []byte) (format, reason string) {
	switch {
	case len(b) == 0:
		return "", "empty file (0 bytes)"
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg", ""
	case bytes.HasPrefix(b, pngSignature):
		return "png", ""
	}
	var other string
	switch {
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		other = "GIF"
	case bytes.HasPrefix(b, []byte("BM")):
		other = "BMP"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		other = "WebP"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		other = "TIFF"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		other = "HEIF/AVIF or video container"
	}
	if other != "" {
		return "", "unsupported image format " + other + " (only JPEG and PNG are read)"
	}
	if looksLikeText(b) {
		return "", "not an image (text)"
	}
	return "", "not an image (unrecognised content)"
}

func looksLikeText(b []byte) bool {
	b = b[:min(len(b), 512)]
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			// A multi-byte rune cut at the 512-byte window is still text.
			return len(b) < utf8.UTFMax
		}
		if r < ' ' && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
			return false
		}
		b = b[size:]
	}
	return true
}

// validate checks the header and the structure up to the end marker.
func validate(b []byte, format string) string {
	var cfg image.Config
	var err error
	if format == "jpeg" {
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	} else {
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	}
	if err != nil {
		return fmt.Sprintf("corrupt %s header: %v", upper(format), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Sprintf("%s has zero size (%dx%d)", upper(format), cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return fmt.Sprintf("%s too large (%dx%d)", upper(format), cfg.Width, cfg.Height)
	}
	if format == "jpeg" {
		err = checkJPEGStructure(b)
	} else {
		err = checkPNGStructure(b)
	}
	if err != nil {
		return fmt.Sprintf("truncated or corrupt %s: %v", upper(format), err)
	}
	return ""
}

func upper(format string) string {
	if format == "jpeg" {
		return "JPEG"
	}
	return "PNG"
}

var errNoEOI = errors.New("data ends before the end-of-image marker")

// checkJPEGStructure walks the marker segments, skipping segment bodies by
// their length (so embedded EXIF thumbnails, with their own markers, are
// passed over) and entropy-coded data up to the next real marker, and
// requires the EOI marker before the data ends.
func checkJPEGStructure(b []byte) error {
	i := 2 // after SOI
	for i < len(b) {
		if b[i] != 0xFF {
			return fmt.Errorf("expected a marker at byte %d", i)
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			break
		}
		m := b[i]
		i++
		switch {
		case m == 0xD9: // EOI
			return nil
		case m == 0x01, m >= 0xD0 && m <= 0xD7: // TEM, RSTn: no length
			continue
		case m == 0x00:
			return fmt.Errorf("stray 0xFF00 at byte %d", i-2)
		}
		if i+2 > len(b) {
			break
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 {
			return fmt.Errorf("bad segment length %d at byte %d", n, i)
		}
		i += n
		if m == 0xDA { // SOS: skip entropy-coded data
			i = skipEntropyData(b, i)
		}
	}
	return errNoEOI
}

// skipEntropyData returns the offset of the first marker after i that is
// neither a stuffed 0xFF00 nor a restart marker, or len(b).
func skipEntropyData(b []byte, i int) int {
	for i < len(b) {
		j := bytes.IndexByte(b[i:], 0xFF)
		if j < 0 {
			return len(b)
		}
		i += j
		if i+1 >= len(b) {
			return len(b)
		}
		switch n := b[i+1]; {
		case n == 0x00, n >= 0xD0 && n <= 0xD7:
			i += 2
		case n == 0xFF:
			i++ // fill byte before a marker
		default:
			return i
		}
	}
	return len(b)
}

// checkPNGStructure walks the chunks, verifying each CRC (as the decoder
// will), and requires IEND before the data ends.
func checkPNGStructure(b []byte) error {
	i := len(pngSignature)
	for i+12 <= len(b) {
		n := binary.BigEndian.Uint32(b[i:])
		if n > 1<<31-1 || int64(i)+12+int64(n) > int64(len(b)) {
			return errors.New("data ends inside a chunk")
		}
		body := b[i+4 : i+8+int(n)] // type + data, what the CRC covers
		crc := binary.BigEndian.Uint32(b[i+8+int(n):])
		if crc32.ChecksumIEEE(body) != crc {
			return fmt.Errorf("chunk %q fails its CRC", body[:4])
		}
		if string(body[:4]) == "IEND" {
			return nil
		}
		i += 12 + int(n)
	}
	return errors.New("data ends before the IEND chunk")
}
