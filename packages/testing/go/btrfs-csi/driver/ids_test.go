package driver

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestIDsAreStableHexAndDistinctPerKind(t *testing.T) {
	name := "pvc-../../etc/passwd\x00;rm -rf /"
	v := VolumeIDFor(name)
	if v != VolumeIDFor(name) {
		t.Fatalf("volume id not stable for one name")
	}
	if !ValidVolumeID(v) || strings.ContainsAny(v, "/.\x00") {
		t.Fatalf("volume id %q is not a plain hex id", v)
	}
	s := SnapshotIDFor(name)
	if !ValidSnapshotID(s) || strings.TrimPrefix(s, snapshotPrefix) == strings.TrimPrefix(v, volumePrefix) {
		t.Fatalf("snapshot id %q should be valid and differ from volume id %q", s, v)
	}
	if VolumeIDFor("a") == VolumeIDFor("b") {
		t.Fatalf("two names gave one id")
	}
	for _, bad := range []string{"", "vol-", "vol-../x", v + "0", strings.ToUpper(v), s, "../" + v} {
		if ValidVolumeID(bad) {
			t.Errorf("ValidVolumeID(%q) = true", bad)
		}
	}
	if ValidSnapshotID(v) {
		t.Errorf("a volume id passed as a snapshot id")
	}
}

func TestPageWalksAllEntriesOnceAcrossDeletes(t *testing.T) {
	var ids []string
	for _, n := range []string{"e", "a", "d", "b", "c"} {
		ids = append(ids, SnapshotIDFor(n))
	}
	first, next, err := Page(ids, "", 2)
	if err != nil || len(first) != 2 || next == "" {
		t.Fatalf("first page: %v %q %v", first, next, err)
	}
	// The last entry of the first page disappears before the second call.
	var remaining []string
	for _, id := range ids {
		if id != first[1] {
			remaining = append(remaining, id)
		}
	}
	rest, end, err := Page(remaining, next, 0)
	if err != nil || end != "" {
		t.Fatalf("second page: %v %q %v", rest, end, err)
	}
	all, _, _ := Page(ids, "", 0)
	if got := append(append([]string{}, first...), rest...); !reflect.DeepEqual(got, all) {
		t.Fatalf("pages %v, want %v", got, all)
	}
	exact, next, _ := Page(ids, "", 5)
	if len(exact) != 5 || next != "" {
		t.Fatalf("a page holding the rest must end the listing: %d entries, token %q", len(exact), next)
	}
}

func TestPageRefusesForeignTokens(t *testing.T) {
	for _, tok := range []string{"invalid-token", "2", SnapshotIDFor("x"), "after:../../x", "after:"} {
		_, _, err := Page([]string{SnapshotIDFor("x")}, tok, 0)
		var bad ErrBadToken
		if !errors.As(err, &bad) {
			t.Errorf("token %q: err %v, want ErrBadToken", tok, err)
		}
	}
}
