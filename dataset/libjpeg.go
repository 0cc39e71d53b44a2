package dataset

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <setjmp.h>
#include <jpeglib.h>

struct dogrun_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int warned;
};

static void dogrun_error_exit(j_common_ptr c) {
	longjmp(((struct dogrun_err *)c->err)->jump, 1);
}

static void dogrun_emit(j_common_ptr c, int level) {
	if (level < 0) ((struct dogrun_err *)c->err)->warned = 1;
}

// Decodes a YCbCr or grayscale JPEG into w*h RGBA pixels. Returns 0 on
// success, 1 when the file is not of that kind, has another size or made
// libjpeg warn (corrupt data it would paper over), 2 on a libjpeg error.
static int dogrun_decode_rgba(const unsigned char *in, unsigned long n,
		unsigned char *out, int w, int h) {
	struct jpeg_decompress_struct d;
	struct dogrun_err e;
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = dogrun_error_exit;
	e.pub.emit_message = dogrun_emit;
	e.warned = 0;
	if (setjmp(e.jump)) {
		jpeg_destroy_decompress(&d);
		return 2;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, in, n);
	jpeg_read_header(&d, TRUE);
	if ((d.jpeg_color_space != JCS_YCbCr && d.jpeg_color_space != JCS_GRAYSCALE) ||
			(int)d.image_width != w || (int)d.image_height != h) {
		jpeg_destroy_decompress(&d);
		return 1;
	}
	d.out_color_space = JCS_EXT_RGBA;
	jpeg_start_decompress(&d);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = out + (size_t)d.output_scanline * w * 4;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	int warned = e.warned;
	jpeg_destroy_decompress(&d);
	return warned ? 1 : 0;
}
*/
import "C"

import (
	"bytes"
	"image"
	"image/jpeg"
	"unsafe"
)

// decodeLibjpeg decodes the common JPEGs (YCbCr or grayscale, clean data) with
// the system's libjpeg-turbo, with the settings PIL uses (islow IDCT, fancy
// chroma upsampling), so dogrun sees the pixels Keras' load_img sees. It is
// also 4x faster than image/jpeg, which matters because decoding shares the
// two cores with ONNX Runtime. ok is false for anything else (CMYK, corrupt
// data, a header Go cannot read): image/jpeg then decodes it or names the error.
func decodeLibjpeg(b []byte) (img *image.RGBA, ok bool) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, false
	}
	img = image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
	rc := C.dogrun_decode_rgba((*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)),
		(*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(cfg.Width), C.int(cfg.Height))
	return img, rc == 0
}
