package simulator

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	"github.com/actionhub/actionhub/sdk"
)

// DashboardFile renders what Looker sends for a dashboard in a rendered format: a small
// PNG (wysiwyg_png) or a one-page PDF (wysiwyg_pdf, assembled_pdf), each a valid file with
// a bar chart drawn from the title.
func DashboardFile(f sdk.Format, title string) ([]byte, error) {
	switch f {
	case sdk.FormatWysiwygPNG:
		return dashboardPNG(title)
	case sdk.FormatWysiwygPDF, sdk.FormatAssembledPDF:
		return dashboardPDF(title), nil
	}
	return nil, fmt.Errorf("the simulator cannot render a dashboard as %s", f)
}

// bars returns bar heights (0..1) derived from the title, so each title draws its own chart.
func bars(title string, n int) []float64 {
	h := mix(uint64(len(title)))
	for _, c := range title {
		h = mix(h ^ uint64(c))
	}
	out := make([]float64, n)
	for i := range out {
		h = mix(h + uint64(i))
		out[i] = 0.2 + float64(h%800)/1000
	}
	return out
}

func dashboardPNG(title string) ([]byte, error) {
	const w, h = 480, 270
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{0xfa, 0xfb, 0xfc, 0xff}
	axis := color.RGBA{0x99, 0xa1, 0xad, 0xff}
	bar := color.RGBA{0x42, 0x85, 0xf4, 0xff}
	head := color.RGBA{0x1f, 0x2a, 0x37, 0xff}
	fill := func(x0, y0, x1, y1 int, c color.RGBA) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	fill(0, 0, w, h, bg)
	fill(0, 0, w, 28, head)
	fill(40, 240, 450, 242, axis)
	fill(40, 50, 42, 242, axis)
	for i, v := range bars(title, 8) {
		x := 56 + i*49
		top := 240 - int(v*180)
		fill(x, top, x+34, 240, bar)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// pdfText escapes s for a PDF literal string, keeping printable ASCII only.
func pdfText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func dashboardPDF(title string) []byte {
	if title == "" {
		title = "Dashboard"
	}
	var content strings.Builder
	fmt.Fprintf(&content, "BT /F1 20 Tf 54 340 Td (%s) Tj ET\n", pdfText(title))
	content.WriteString("0.6 0.63 0.68 RG 54 60 m 560 60 l S 54 60 m 54 300 l S\n")
	content.WriteString("0.26 0.52 0.96 rg\n")
	for i, v := range bars(title, 8) {
		fmt.Fprintf(&content, "%d 60 40 %d re f\n", 70+i*60, int(v*220))
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 396] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
