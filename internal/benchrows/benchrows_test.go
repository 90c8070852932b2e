package benchrows

import (
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100_000: "100,000", 1_000_000: "1,000,000"} {
		if got := Group(n); got != want {
			t.Errorf("Group(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMeter(t *testing.T) {
	m := Start(time.Millisecond)
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	end := time.Now().Add(5 * time.Millisecond)
	for time.Now().Before(end) {
	}
	s := m.Stop()
	if s.Wall < 5*time.Millisecond || s.CPU <= 0 || s.PeakHeap < 8<<20 {
		t.Fatalf("%+v", s)
	}
	buf[0] = 1 // keeps buf live until after Stop
	var tot Totals
	tot.Add(s)
	tot.Add(Sample{Wall: time.Second, CPU: time.Second, PeakHeap: 1, PeakRSS: s.PeakRSS + 1})
	if tot.Wall != s.Wall+time.Second || tot.PeakHeap != s.PeakHeap || tot.PeakRSS != s.PeakRSS+1 {
		t.Fatalf("%+v", tot)
	}
}
