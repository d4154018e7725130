package mfa

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QR image geometry: each module is qrScale pixels, with the 4-module quiet
// zone ISO/IEC 18004 asks for.
const (
	qrScale = 6
	qrQuiet = 4
)

// QRPNG renders content (an otpauth:// URL) as a black-on-white PNG QR
// code. The QR library gives the module matrix; the picture is drawn here
// with the standard library, so no graphics dependency comes along.
func QRPNG(content string) ([]byte, error) {
	qr, err := qrcode.NewWith(content, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	w := &matrixWriter{}
	if err := qr.Save(w); err != nil {
		return nil, fmt.Errorf("mfa: QR code: %w", err)
	}
	bm := w.bitmap
	n := len(bm)
	side := (n + 2*qrQuiet) * qrScale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := (x+qrQuiet)*qrScale, (y+qrQuiet)*qrScale
			for dy := range qrScale {
				for dx := range qrScale {
					img.SetColorIndex(x0+dx, y0+dy, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: QR PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// matrixWriter keeps the module matrix the QR library hands its writers.
type matrixWriter struct{ bitmap [][]bool }

func (m *matrixWriter) Write(mat qrcode.Matrix) error {
	m.bitmap = mat.Bitmap()
	return nil
}

func (m *matrixWriter) Close() error { return nil }
