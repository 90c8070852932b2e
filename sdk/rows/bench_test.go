package rows_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// Every benchmark here counts one op per row: ns/op is ns per row and allocs/op is
// allocations per row (amortised over b.N rows read from one stream).

// clock measures wall-clock and CPU time from its creation.
type clock struct {
	wall time.Time
	cpu  time.Duration
}

func startClock() clock { return clock{time.Now(), cpuTime()} }

// report adds rows/s and MB/s for n rows of total bytes read since c started, and the CPU
// time per row (user+system, all threads: GC included), steadier than ns/op on a busy
// machine.
func report(b *testing.B, n int, total int64, c clock) {
	d := time.Since(c.wall)
	b.ReportMetric(float64(n)/d.Seconds(), "rows/s")
	b.ReportMetric(float64(total)/1e6/d.Seconds(), "MB/s")
	b.ReportMetric(float64(total)/float64(n), "B/row")
	if cpu := cpuTime() - c.cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/row")
	}
}

// consume touches every value, as the cheapest possible action would.
func consume(rd *rows.Reader) int {
	sum := 0
	for rd.Next() {
		row := rd.Row()
		for i := 0; i < row.Len(); i++ {
			sum += len(row.At(i).Value.Bytes())
		}
	}
	return sum
}

// BenchmarkReadRaw is the baseline: merely reading the generated json_detail_lite_stream
// bytes (io.Copy to io.Discard).
func BenchmarkReadRaw(b *testing.B) {
	b.ReportAllocs()
	src := rowsgen.NewReader(rowsgen.Options{Rows: b.N})
	start := startClock()
	n, err := io.Copy(io.Discard, src)
	if err != nil {
		b.Fatal(err)
	}
	report(b, b.N, n, start)
}

// BenchmarkJSONDetailLiteStream iterates over generated json_detail_lite_stream rows (5
// columns), generated on the fly: compare with BenchmarkReadRaw.
func BenchmarkJSONDetailLiteStream(b *testing.B) {
	benchReader(b, rowsgen.Options{Rows: b.N}, "json_detail_lite_stream")
}

// BenchmarkJSONDetailFull is full json_detail: rendered values, drill links, skipped
// top-level keys and a pivoted measure.
func BenchmarkJSONDetailFull(b *testing.B) {
	benchReader(b, rowsgen.Options{Rows: b.N, Rendered: true, Extra: true, Pivots: []string{"complete", "pending"}}, "json_detail")
}

// BenchmarkJSONArray is the flat json / json_label format.
func BenchmarkJSONArray(b *testing.B) {
	benchReader(b, rowsgen.Options{Rows: b.N, Format: rowsgen.JSONFormat}, "json")
}

// BenchmarkCSV is the csv format (encoding/csv with ReuseRecord).
func BenchmarkCSV(b *testing.B) {
	benchReader(b, rowsgen.Options{Rows: b.N, Format: rowsgen.CSVFormat}, "csv")
}

func benchReader(b *testing.B, o rowsgen.Options, format string) {
	b.ReportAllocs()
	rd := rows.NewReader(rowsgen.NewReader(o), format)
	start := startClock()
	consume(rd)
	if rd.Err() != nil || rd.Count() != int64(b.N) {
		b.Fatalf("%v after %d rows", rd.Err(), rd.Count())
	}
	report(b, b.N, rd.BytesRead(), start)
}

// memReader repeats an in-memory json_detail_lite_stream data section forever, so that
// parsing can be timed without the generator's cost.
type memReader struct {
	head, body []byte
	pos        int
	headDone   bool
}

func (m *memReader) Read(p []byte) (int, error) {
	if !m.headDone {
		n := copy(p, m.head)
		m.head = m.head[n:]
		m.headDone = len(m.head) == 0
		return n, nil
	}
	n := copy(p, m.body[m.pos:])
	m.pos = (m.pos + n) % len(m.body)
	return n, nil
}

// newMemStream returns a stream of endless rows (each body row is followed by ',').
func newMemStream() *memReader {
	doc := rowsgen.Bytes(rowsgen.Options{Rows: 4096})
	i := bytes.Index(doc, []byte(`"data":[`)) + len(`"data":[`)
	j := bytes.LastIndex(doc, []byte(`],"ran_at"`))
	body := append(append([]byte(nil), doc[i:j]...), ',')
	return &memReader{head: doc[:i], body: body}
}

// BenchmarkReadRawMemory and BenchmarkJSONDetailLiteStreamMemory time the same rows read
// from memory (no generator): the parser's own throughput.
func BenchmarkReadRawMemory(b *testing.B) {
	b.ReportAllocs()
	m := newMemStream()
	per := float64(len(m.body)) / 4096
	total := int64(per * float64(b.N))
	start := startClock()
	io.CopyN(io.Discard, m, total)
	report(b, b.N, total, start)
}

func BenchmarkJSONDetailLiteStreamMemory(b *testing.B) {
	b.ReportAllocs()
	m := newMemStream()
	rd := rows.NewReader(m, "json_detail_lite_stream")
	start := startClock()
	for i := 0; i < b.N; i++ {
		if !rd.Next() {
			b.Fatal(rd.Err())
		}
		row := rd.Row()
		for j := 0; j < row.Len(); j++ {
			_ = row.At(j).Value.Bytes()
		}
	}
	report(b, b.N, rd.BytesRead(), start)
}

// BenchmarkPeakHeap reads 1M and 10M generated rows, sampling the heap every 64Ki rows, and
// reports the peak: it must not grow with the number of rows. Run with
//
//	go test -run '^$' -bench PeakHeap -benchtime 1x ./sdk/rows/
func BenchmarkPeakHeap(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(map[int]string{1_000_000: "rows=1M", 10_000_000: "rows=10M"}[n], func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base, mallocs := ms.HeapAlloc, ms.Mallocs
				var peakAlloc, peakInuse uint64
				rd := rows.NewReader(rowsgen.NewReader(rowsgen.Options{Rows: n}), "json_detail_lite_stream")
				start := time.Now()
				for rd.Next() {
					if rd.Count()&(1<<16-1) == 0 {
						runtime.ReadMemStats(&ms)
						peakAlloc = max(peakAlloc, ms.HeapAlloc)
						peakInuse = max(peakInuse, ms.HeapInuse)
					}
				}
				d := time.Since(start)
				if rd.Err() != nil || rd.Count() != int64(n) {
					b.Fatal(rd.Err())
				}
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(peakAlloc)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(peakAlloc-min(base, peakAlloc))/(1<<20), "peak-growth-MB")
				b.ReportMetric(float64(peakInuse)/(1<<20), "peak-inuse-MB")
				b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(n), "allocs/row")
				b.ReportMetric(float64(n)/d.Seconds(), "rows/s")
			}
		})
	}
}
