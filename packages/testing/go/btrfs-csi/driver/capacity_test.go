package driver

import (
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCapacityFor(t *testing.T) {
	const gi = int64(1 << 30)
	cases := []struct {
		name     string
		r        *csi.CapacityRange
		source   int64
		want     int64
		wantCode codes.Code
	}{
		{"no range: the default", nil, 0, DefaultCapacityBytes, codes.OK},
		{"required wins", &csi.CapacityRange{RequiredBytes: 3 * gi}, 0, 3 * gi, codes.OK},
		{"limit below the default caps it", &csi.CapacityRange{LimitBytes: gi / 2}, 0, gi / 2, codes.OK},
		{"required above limit", &csi.CapacityRange{RequiredBytes: 2 * gi, LimitBytes: gi}, 0, 0, codes.InvalidArgument},
		{"negative", &csi.CapacityRange{RequiredBytes: -1}, 0, 0, codes.InvalidArgument},
		{"from a source without a size: the source's", nil, 5 * gi, 5 * gi, codes.OK},
		{"from a source, larger", &csi.CapacityRange{RequiredBytes: 6 * gi}, 5 * gi, 6 * gi, codes.OK},
		{"from a source, smaller", &csi.CapacityRange{RequiredBytes: 4 * gi}, 5 * gi, 0, codes.OutOfRange},
		{"from a source, limit smaller", &csi.CapacityRange{LimitBytes: 4 * gi}, 5 * gi, 0, codes.OutOfRange},
	}
	for _, c := range cases {
		got, err := capacityFor(c.r, c.source)
		if code := status.Code(err); code != c.wantCode || got != c.want {
			t.Errorf("%s: got %d, %v; want %d, %v", c.name, got, err, c.want, c.wantCode)
		}
	}
}
