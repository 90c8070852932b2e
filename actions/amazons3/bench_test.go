//lint:file-ignore SA1019 the issue asks for the upload manager (feature/s3/manager); its successor transfermanager needs a release train the module proxy here refuses

package amazons3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

// benchBytes is the size streamed by the benchmarks: BENCH_S3_BYTES (a byte count, or
// with a K, M or G suffix in binary units, e.g. 2G), 256 MiB by default.
func benchBytes(b *testing.B) int64 {
	v := strings.TrimSpace(os.Getenv("BENCH_S3_BYTES"))
	if v == "" {
		return 256 << 20
	}
	mult := int64(1)
	switch strings.ToUpper(v[len(v)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("BENCH_S3_BYTES=%q is not a size", os.Getenv("BENCH_S3_BYTES"))
	}
	return n * mult
}

// generated is an io.Reader of n pattern bytes made from one 1 MiB block.
type generated struct {
	block []byte
	left  int64
	off   int
}

func newGenerated(n int64) *generated {
	return &generated{block: pattern(1 << 20), left: n}
}

func (g *generated) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := copy(p, g.block[g.off:])
	g.off = (g.off + n) % len(g.block)
	g.left -= int64(n)
	return n, nil
}

// peaks samples the Go heap (live and not yet collected objects) and the process's
// resident set while a benchmark runs.
type peaks struct {
	stop chan struct{}
	done sync.WaitGroup
	heap atomic.Uint64
}

func startPeaks() *peaks {
	runtime.GC()
	// Writing 5 to clear_refs resets the kernel's peak RSS (VmHWM) of the process.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p := &peaks{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > p.heap.Load() {
				p.heap.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peaks) report(b *testing.B) {
	close(p.stop)
	p.done.Wait()
	b.ReportMetric(float64(p.heap.Load())/(1<<20), "peak-heap-MiB")
	if hwm := vmHWM(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
	}
}

// vmHWM is the process's peak resident set size in bytes (Linux), 0 when unknown.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// BenchmarkS3Upload streams generated data from a one-time download URL through the real
// HTTP server (hubtest) and the amazon_s3 action into the S3 fake, whose backend counts and
// discards the bytes. Run: go test -run '^$' -bench S3Upload -benchtime 1x ./actions/amazons3
// (BENCH_S3_BYTES=2G for 2 GiB).
func BenchmarkS3Upload(b *testing.B) {
	n := benchBytes(b)
	fake := s3fake.New(b, s3fake.Options{Buckets: []string{"bench"}, Discard: true})
	h := hubtest.New(b, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_S3": fake.URL},
		Actions: []sdk.Module{Module}})
	b.SetBytes(n)
	p := startPeaks()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error {
			_, err := io.CopyBuffer(w, newGenerated(n), make([]byte, 1<<20))
			return err
		})
		key := fmt.Sprintf("run-%d.bin", i)
		res := h.Execute(b, Name, map[string]any{"type": "query", "data": params("us-east-1"),
			"form_params":    map[string]any{"bucket": "bench", "filename": key},
			"scheduled_plan": map[string]any{"download_url": dl}})
		if !res.Looker.Success {
			b.Fatalf("execute: %s", res.Body)
		}
		if size, ok := fake.Discarder.Size("bench", key); !ok || size != n {
			b.Fatalf("object size %d, want %d", size, n)
		}
	}
	b.StopTimer()
	p.report(b)
}

// BenchmarkS3UploadDirect is the baseline of BenchmarkS3Upload: the same bytes copied to
// the same fake with the upload manager alone (same part size and concurrency), no hub and
// no download.
func BenchmarkS3UploadDirect(b *testing.B) {
	n := benchBytes(b)
	fake := s3fake.New(b, s3fake.Options{Buckets: []string{"bench"}, Discard: true})
	cl := s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		BaseEndpoint:               aws.String(fake.URL),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	up := manager.NewUploader(cl, func(u *manager.Uploader) {
		u.PartSize = PartSize
		u.Concurrency = Concurrency
	})
	b.SetBytes(n)
	p := startPeaks()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("run-%d.bin", i)
		if _, err := up.Upload(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("bench"), Key: aws.String(key), Body: newGenerated(n),
		}); err != nil {
			b.Fatal(err)
		}
		if size, ok := fake.Discarder.Size("bench", key); !ok || size != n {
			b.Fatalf("object size %d, want %d", size, n)
		}
	}
	b.StopTimer()
	p.report(b)
}

// BenchmarkS3UploadDirectFromURL is the second baseline: the same one-time download URL
// read with a plain GET and copied to the fake with the upload manager alone. The gap to
// BenchmarkS3Upload is what the hub adds (routing, decoding, the action); the gap to
// BenchmarkS3UploadDirect is the cost of the loopback download itself, whose sending side
// runs in this process too.
func BenchmarkS3UploadDirectFromURL(b *testing.B) {
	n := benchBytes(b)
	fake := s3fake.New(b, s3fake.Options{Buckets: []string{"bench"}, Discard: true})
	h := hubtest.New(b, hubtest.Options{Actions: []sdk.Module{Module}})
	cl := s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		BaseEndpoint:               aws.String(fake.URL),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	up := manager.NewUploader(cl, func(u *manager.Uploader) {
		u.PartSize = PartSize
		u.Concurrency = Concurrency
	})
	b.SetBytes(n)
	p := startPeaks()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error {
			_, err := io.CopyBuffer(w, newGenerated(n), make([]byte, 1<<20))
			return err
		})
		resp, err := http.Get(dl)
		if err != nil {
			b.Fatal(err)
		}
		key := fmt.Sprintf("run-%d.bin", i)
		_, err = up.Upload(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("bench"), Key: aws.String(key), Body: resp.Body,
		})
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		if size, ok := fake.Discarder.Size("bench", key); !ok || size != n {
			b.Fatalf("object size %d, want %d", size, n)
		}
	}
	b.StopTimer()
	p.report(b)
}
