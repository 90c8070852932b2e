package s3fake

import (
	"crypto/md5"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// Discard is a gofakes3 backend (with multipart support) that counts the bytes it
// receives and keeps only each object's size, so that benchmarks measure the hub rather
// than the fake's memory. GetObject serves zero bytes of the recorded size.
type Discard struct {
	mu      sync.Mutex
	buckets map[string]map[string]int64 // bucket -> key -> size
	uploads map[gofakes3.UploadID]*discardUpload
	next    int
	bytes   int64
}

type discardUpload struct {
	bucket, key string
	parts       map[int]int64
}

// NewDiscard returns an empty Discard backend.
func NewDiscard() *Discard {
	return &Discard{buckets: map[string]map[string]int64{}, uploads: map[gofakes3.UploadID]*discardUpload{}}
}

// Bytes is the number of bytes received so far (object bodies and parts).
func (d *Discard) Bytes() int64 { d.mu.Lock(); defer d.mu.Unlock(); return d.bytes }

// Size returns an object's size and whether it exists.
func (d *Discard) Size(bucket, key string) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.buckets[bucket][key]
	return n, ok
}

// OpenUploads is the number of multipart uploads neither completed nor aborted.
func (d *Discard) OpenUploads() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.uploads) }

func (d *Discard) count(r io.Reader) (int64, error) {
	n, err := io.Copy(io.Discard, r)
	d.mu.Lock()
	d.bytes += n
	d.mu.Unlock()
	return n, err
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ListBuckets implements gofakes3.Backend.
func (d *Discard) ListBuckets() ([]gofakes3.BucketInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]gofakes3.BucketInfo, 0, len(d.buckets))
	for name := range d.buckets {
		out = append(out, gofakes3.BucketInfo{Name: name, CreationDate: gofakes3.NewContentTime(epoch)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListBucket implements gofakes3.Backend.
func (d *Discard) ListBucket(name string, prefix *gofakes3.Prefix, _ gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.buckets[name]
	if !ok {
		return nil, gofakes3.BucketNotFound(name)
	}
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := gofakes3.NewObjectList()
	for _, k := range keys {
		var m gofakes3.PrefixMatch
		if !prefix.Match(k, &m) {
			continue
		}
		if m.CommonPrefix {
			list.AddPrefix(m.MatchedPart)
			continue
		}
		list.Add(&gofakes3.Content{Key: k, LastModified: gofakes3.NewContentTime(epoch), ETag: `""`, Size: b[k]})
	}
	return list, nil
}

// CreateBucket implements gofakes3.Backend.
func (d *Discard) CreateBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.buckets[name]; ok {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	d.buckets[name] = map[string]int64{}
	return nil
}

// BucketExists implements gofakes3.Backend.
func (d *Discard) BucketExists(name string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.buckets[name]
	return ok, nil
}

// DeleteBucket implements gofakes3.Backend.
func (d *Discard) DeleteBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.buckets[name]
	if !ok {
		return gofakes3.BucketNotFound(name)
	}
	if len(b) > 0 {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	delete(d.buckets, name)
	return nil
}

// ForceDeleteBucket implements gofakes3.Backend.
func (d *Discard) ForceDeleteBucket(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.buckets[name]; !ok {
		return gofakes3.BucketNotFound(name)
	}
	delete(d.buckets, name)
	return nil
}

func (d *Discard) object(bucket, key string, withBody bool) (*gofakes3.Object, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.buckets[bucket]
	if !ok {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	n, ok := b[key]
	if !ok {
		return nil, gofakes3.KeyNotFound(key)
	}
	var body io.Reader = io.LimitReader(zeros{}, n)
	if !withBody {
		body = io.LimitReader(zeros{}, 0)
	}
	return &gofakes3.Object{Name: key, Size: n, Contents: io.NopCloser(body), Hash: make([]byte, md5.Size),
		Metadata: map[string]string{}}, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// GetObject implements gofakes3.Backend; the content is zero bytes (nothing was kept).
func (d *Discard) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	if rng != nil {
		return nil, gofakes3.ErrNotImplemented
	}
	return d.object(bucket, key, true)
}

// HeadObject implements gofakes3.Backend.
func (d *Discard) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	return d.object(bucket, key, false)
}

// DeleteObject implements gofakes3.Backend.
func (d *Discard) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.buckets[bucket]
	if !ok {
		return gofakes3.ObjectDeleteResult{}, gofakes3.BucketNotFound(bucket)
	}
	delete(b, key)
	return gofakes3.ObjectDeleteResult{}, nil
}

// PutObject implements gofakes3.Backend: the body is counted and dropped.
func (d *Discard) PutObject(bucket, key string, _ map[string]string, input io.Reader, _ int64, _ *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	if ok, _ := d.BucketExists(bucket); !ok {
		return gofakes3.PutObjectResult{}, gofakes3.BucketNotFound(bucket)
	}
	n, err := d.count(input)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	d.mu.Lock()
	d.buckets[bucket][key] = n
	d.mu.Unlock()
	return gofakes3.PutObjectResult{}, nil
}

// DeleteMulti implements gofakes3.Backend.
func (d *Discard) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var res gofakes3.MultiDeleteResult
	for _, k := range keys {
		if _, err := d.DeleteObject(bucket, k); err != nil {
			return res, err
		}
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: k})
	}
	return res, nil
}

// CopyObject implements gofakes3.Backend (sizes only).
func (d *Discard) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, _ map[string]string) (gofakes3.CopyObjectResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.buckets[srcBucket][srcKey]
	if !ok {
		return gofakes3.CopyObjectResult{}, gofakes3.KeyNotFound(srcKey)
	}
	dst, ok := d.buckets[dstBucket]
	if !ok {
		return gofakes3.CopyObjectResult{}, gofakes3.BucketNotFound(dstBucket)
	}
	dst[dstKey] = n
	return gofakes3.CopyObjectResult{ETag: `""`, LastModified: gofakes3.NewContentTime(epoch)}, nil
}

// CreateMultipartUpload implements gofakes3.MultipartBackend.
func (d *Discard) CreateMultipartUpload(bucket, key string, _ map[string]string) (gofakes3.UploadID, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.buckets[bucket]; !ok {
		return "", gofakes3.BucketNotFound(bucket)
	}
	d.next++
	id := gofakes3.UploadID(strconv.Itoa(d.next))
	d.uploads[id] = &discardUpload{bucket: bucket, key: key, parts: map[int]int64{}}
	return id, nil
}

// UploadPart implements gofakes3.MultipartBackend: the part is counted and dropped.
func (d *Discard) UploadPart(bucket, key string, id gofakes3.UploadID, part int, _ int64, input io.Reader) (string, error) {
	d.mu.Lock()
	_, ok := d.uploads[id]
	d.mu.Unlock()
	if !ok {
		return "", gofakes3.ErrNoSuchUpload
	}
	n, err := d.count(input)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.uploads[id]
	if !ok {
		return "", gofakes3.ErrNoSuchUpload
	}
	u.parts[part] = n
	return fmt.Sprintf(`"part-%d"`, part), nil
}

// ListMultipartUploads implements gofakes3.MultipartBackend.
func (d *Discard) ListMultipartUploads(bucket string, _ *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	res := &gofakes3.ListMultipartUploadsResult{Bucket: bucket, MaxUploads: limit}
	for id, u := range d.uploads {
		var m gofakes3.PrefixMatch
		if u.bucket == bucket && prefix.Match(u.key, &m) {
			res.Uploads = append(res.Uploads, gofakes3.ListMultipartUploadItem{Key: u.key, UploadID: id, Initiated: gofakes3.NewContentTime(epoch)})
		}
	}
	sort.Slice(res.Uploads, func(i, j int) bool { return res.Uploads[i].UploadID < res.Uploads[j].UploadID })
	return res, nil
}

// ListParts implements gofakes3.MultipartBackend.
func (d *Discard) ListParts(bucket, key string, id gofakes3.UploadID, _ int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.uploads[id]
	if !ok {
		return nil, gofakes3.ErrNoSuchUpload
	}
	res := &gofakes3.ListMultipartUploadPartsResult{Bucket: bucket, Key: key, UploadID: id, MaxParts: limit}
	for n, size := range u.parts {
		res.Parts = append(res.Parts, gofakes3.ListMultipartUploadPartItem{PartNumber: n, Size: size, ETag: fmt.Sprintf(`"part-%d"`, n)})
	}
	sort.Slice(res.Parts, func(i, j int) bool { return res.Parts[i].PartNumber < res.Parts[j].PartNumber })
	return res, nil
}

// AbortMultipartUpload implements gofakes3.MultipartBackend.
func (d *Discard) AbortMultipartUpload(_, _ string, id gofakes3.UploadID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.uploads[id]; !ok {
		return gofakes3.ErrNoSuchUpload
	}
	delete(d.uploads, id)
	return nil
}

// CompleteMultipartUpload implements gofakes3.MultipartBackend.
func (d *Discard) CompleteMultipartUpload(bucket, key string, id gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.uploads[id]
	if !ok {
		return "", "", gofakes3.ErrNoSuchUpload
	}
	var total int64
	for _, p := range in.Parts {
		n, ok := u.parts[p.PartNumber]
		if !ok {
			return "", "", gofakes3.ErrInvalidPart
		}
		total += n
	}
	b, ok := d.buckets[bucket]
	if !ok {
		return "", "", gofakes3.BucketNotFound(bucket)
	}
	b[key] = total
	delete(d.uploads, id)
	return "", `"multipart"`, nil
}

var (
	_ gofakes3.Backend          = (*Discard)(nil)
	_ gofakes3.MultipartBackend = (*Discard)(nil)
)
