package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// IDs are derived from the CSI name, so a retried CreateVolume/CreateSnapshot lands on the same
// subvolume without a name index to keep consistent; they are hex only, so no name can reach a
// path outside the driver's root.
const (
	volumePrefix   = "vol-"
	snapshotPrefix = "snap-"
)

var (
	volumeIDPattern   = regexp.MustCompile(`^vol-[0-9a-f]{32}$`)
	snapshotIDPattern = regexp.MustCompile(`^snap-[0-9a-f]{32}$`)
)

func hashName(kind, name string) string {
	// The kind is part of the hash so a volume and a snapshot of the same name never share an id.
	sum := sha256.Sum256([]byte(kind + "\x00" + name))
	return hex.EncodeToString(sum[:16])
}

// VolumeIDFor is the volume id of the CSI volume name.
func VolumeIDFor(name string) string { return volumePrefix + hashName("volume", name) }

// SnapshotIDFor is the snapshot id of the CSI snapshot name.
func SnapshotIDFor(name string) string { return snapshotPrefix + hashName("snapshot", name) }

// ValidVolumeID tells whether id has the shape of an id this driver hands out; anything else is
// unknown to it (and never joined to a path).
func ValidVolumeID(id string) bool { return volumeIDPattern.MatchString(id) }

// ValidSnapshotID is ValidVolumeID for snapshots.
func ValidSnapshotID(id string) bool { return snapshotIDPattern.MatchString(id) }

// pageTokenPrefix marks our tokens: the CSI spec wants ABORTED for a token the plugin did not
// issue, and a bare id could not be told apart from a typo.
const pageTokenPrefix = "after:"

// ErrBadToken is returned by Page for a starting token this driver did not issue.
type ErrBadToken struct{ Token string }

func (e ErrBadToken) Error() string { return "invalid starting_token " + strconv.Quote(e.Token) }

// Page returns the entries of ids (any order) after the token, at most max (0 = all), sorted, and
// the token of the next page ("" at the end). The token names the last id returned rather than an
// offset, so deleting or adding snapshots between two calls neither repeats nor skips the others.
func Page(ids []string, token string, max int) (page []string, next string, err error) {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	start := 0
	if token != "" {
		after, ok := strings.CutPrefix(token, pageTokenPrefix)
		if !ok || !ValidSnapshotID(after) {
			return nil, "", ErrBadToken{token}
		}
		start = sort.SearchStrings(sorted, after)
		if start < len(sorted) && sorted[start] == after {
			start++
		}
	}
	rest := sorted[start:]
	if max > 0 && len(rest) > max {
		return rest[:max], pageTokenPrefix + rest[max-1], nil
	}
	return rest, "", nil
}
