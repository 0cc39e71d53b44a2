package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
)

// Decode reads a JPEG or PNG photo (format sniffed from content) as opaque
// RGB in an *image.RGBA whose bounds start at (0, 0). Gray, CMYK/YCCK and
// YCbCr JPEGs are converted; PNG alpha is dropped rather than composited,
// like PIL's convert("RGB") used by Keras' load_img. EXIF orientation is not
// applied (Keras does not either).
func Decode(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return DecodeBytes(path, b)
}

// DecodeUpload is DecodeBytes of a photo from outside (an upload), checked
// first as Load checks a dataset's files: its structure whole and its size
// sane, so that a small file cannot make the decoder ask for gigabytes.
func DecodeUpload(name string, b []byte) (image.Image, error) {
	format, reason := sniff(b)
	if reason == "" {
		reason = validate(b, format)
	}
	if reason != "" {
		return nil, fmt.Errorf("%s: %s", name, reason)
	}
	return DecodeBytes(name, b)
}

// DecodeBytes is Decode of a photo read already; name stands for it in
// errors.
func DecodeBytes(name string, b []byte) (image.Image, error) {
	format, reason := sniff(b)
	if reason != "" {
		return nil, fmt.Errorf("dataset: %s: %s", name, reason)
	}
	if format == "jpeg" {
		if img, ok := decodeLibjpeg(b); ok {
			return img, nil
		}
	}
	var img image.Image
	var err error
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(b))
	} else {
		img, err = png.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: decoding %s %s: %w", upper(format), name, err)
	}
	return toRGBA(img), nil
}

// toRGBA converts any image to an opaque *image.RGBA at origin (0, 0),
// keeping straight (non-premultiplied) colour where the source has alpha.
func toRGBA(src image.Image) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	w, h := b.Dx(), b.Dy()
	switch s := src.(type) {
	case *image.RGBA:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			copy(dst.Pix[y*dst.Stride:], row)
		}
		unpremultiply(dst)
	case *image.NRGBA:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			copy(dst.Pix[y*dst.Stride:], row)
		}
		setOpaque(dst)
	case *image.YCbCr, *image.Gray, *image.CMYK:
		// image/draw has fast, exact paths for these opaque models.
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range s.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			in := s.Pix[y*s.Stride : y*s.Stride+w]
			out := dst.Pix[y*dst.Stride:]
			for x, ci := range in {
				c := lut[ci]
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = c[0], c[1], c[2], 255
			}
		}
	default: // 16-bit and rarer models: slow but correct
		for y := range h {
			out := dst.Pix[y*dst.Stride:]
			for x := range w {
				c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), 255
			}
		}
	}
	return dst
}

// unpremultiply turns premultiplied pixels into straight, opaque ones.
func unpremultiply(m *image.RGBA) {
	p := m.Pix
	for i := 0; i+3 < len(p); i += 4 {
		switch a := uint32(p[i+3]); a {
		case 255:
		case 0:
			p[i], p[i+1], p[i+2], p[i+3] = 0, 0, 0, 255
		default:
			p[i] = uint8(min(255, (uint32(p[i])*255+a/2)/a))
			p[i+1] = uint8(min(255, (uint32(p[i+1])*255+a/2)/a))
			p[i+2] = uint8(min(255, (uint32(p[i+2])*255+a/2)/a))
			p[i+3] = 255
		}
	}
}

func setOpaque(m *image.RGBA) {
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
}
