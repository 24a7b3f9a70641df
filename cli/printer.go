package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/rivo/uniseg"
)

// The output formats of paxosctl's --write-out.
const (
	formatSimple = "simple"
	formatJSON   = "json"
	formatTable  = "table"
)

// printer writes command results in the --write-out format. It is the one
// place that knows the formats: commands hand it a result (or stream rows)
// and never format output themselves.
type printer struct {
	format string
	w      io.Writer
}

// result is what a command prints, in every format at once.
type result struct {
	// JSON is what -w json prints, as one compact line.
	JSON any
	// Header and Rows are the columns of -w table and -w simple.
	Header []string
	Rows   [][]string
	// Plain, when above 0, makes -w simple print the first Plain columns
	// of the rows tab-separated without a header (send, read: easy to cut
	// and awk); otherwise simple aligns the columns under the header.
	Plain int
	// Text, when set, is what -w simple prints instead of the rows.
	Text string
	// Notes are lines printed after the rows in simple and table formats.
	Notes []string
}

// print writes r in the printer's format.
func (p *printer) print(r result) error {
	switch p.format {
	case formatJSON:
		return p.json(r.JSON)
	case formatTable:
		if err := p.box(r.Header, r.Rows); err != nil {
			return err
		}
	default:
		if r.Text != "" {
			if _, err := fmt.Fprintln(p.w, r.Text); err != nil {
				return err
			}
		} else if r.Plain > 0 {
			for _, row := range r.Rows {
				if err := p.line(row[:min(r.Plain, len(row))]); err != nil {
					return err
				}
			}
		} else if err := p.aligned(r.Header, r.Rows); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintln(p.w, n); err != nil {
			return err
		}
	}
	return nil
}

// json writes v as one compact JSON line.
func (p *printer) json(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = p.w.Write(append(b, '\n'))
	return err
}

// line writes the cells tab-separated.
func (p *printer) line(row []string) error {
	cells := make([]string, len(row))
	for i, c := range row {
		cells[i] = cleanCell(c)
	}
	_, err := fmt.Fprintln(p.w, strings.Join(cells, "\t"))
	return err
}

// aligned writes the header and rows in space-aligned columns.
func (p *printer) aligned(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for _, row := range append([][]string{header}, rows...) {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cleanCell(c)
		}
		if _, err := fmt.Fprintln(tw, strings.Join(cells, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// box writes an ASCII table with a border, numbers aligned right.
func (p *printer) box(header []string, rows [][]string) error {
	clean := make([][]string, 0, len(rows)+1)
	for _, row := range append([][]string{header}, rows...) {
		cells := make([]string, len(header))
		for i := range cells {
			if i < len(row) {
				cells[i] = cleanCell(row[i])
			}
		}
		clean = append(clean, cells)
	}
	widths := make([]int, len(header))
	numeric := make([]bool, len(header))
	for i := range header {
		numeric[i] = len(rows) > 0
	}
	for r, row := range clean {
		for i, c := range row {
			widths[i] = max(widths[i], uniseg.StringWidth(c))
			if r > 0 && c != "" && c != "-" && !isNumber(c) {
				numeric[i] = false
			}
		}
	}
	var b strings.Builder
	rule := func() {
		b.WriteByte('+')
		for _, w := range widths {
			b.WriteString(strings.Repeat("-", w+2))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	rule()
	for r, row := range clean {
		b.WriteByte('|')
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-uniseg.StringWidth(c))
			if numeric[i] && r > 0 {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteByte('\n')
		if r == 0 {
			rule()
		}
	}
	rule()
	_, err := io.WriteString(p.w, b.String())
	return err
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// cleanCell makes a value safe for one cell of a line: control characters
// (tabs, newlines) are written Go-escaped, so a line stays one record.
// -w json prints values exactly.
func cleanCell(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// rowStream prints rows one at a time, as they arrive (send, read
// --follow): simple as tab-separated lines, json as one object per line,
// table as fixed-width columns under a header printed once.
type rowStream struct {
	p      *printer
	header []string
	widths []int
	begun  bool
}

// stream returns a row stream with header; widths are the minimum column
// widths of -w table (the last column is never padded).
func (p *printer) stream(header []string, widths ...int) *rowStream {
	return &rowStream{p: p, header: header, widths: widths}
}

// write prints one row; obj is what -w json prints for it.
func (s *rowStream) write(row []string, obj any) error {
	switch s.p.format {
	case formatJSON:
		return s.p.json(obj)
	case formatTable:
		if !s.begun {
			s.begun = true
			if err := s.fixed(s.header); err != nil {
				return err
			}
		}
		return s.fixed(row)
	}
	return s.p.line(row)
}

func (s *rowStream) fixed(row []string) error {
	var b strings.Builder
	for i, c := range row {
		c = cleanCell(c)
		if i < len(row)-1 {
			w := 12
			if i < len(s.widths) {
				w = s.widths[i]
			}
			c += strings.Repeat(" ", max(1, w-uniseg.StringWidth(c)+1))
		}
		b.WriteString(c)
	}
	_, err := fmt.Fprintln(s.p.w, b.String())
	return err
}

// humanBytes renders n bytes as "512 B", "24 KiB", "1.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
