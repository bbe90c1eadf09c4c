package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The layout under the driver's root. The metadata lives outside the subvolumes, so it is neither
// visible in a pod's volume nor carried into its snapshots and clones.
//
//	<root>/volumes/<volume id>      writable subvolume, the volume's content
//	<root>/snapshots/<snapshot id>  read-only subvolume
//	<root>/meta/volumes/<id>.json   volumeMeta
//	<root>/meta/snapshots/<id>.json snapshotMeta
type store struct{ root string }

type volumeMeta struct {
	Name          string `json:"name"`
	CapacityBytes int64  `json:"capacityBytes"`
	// SourceSnapshotID or SourceVolumeID when created from a content source: CreateVolume must
	// refuse the same name with another source.
	SourceSnapshotID string `json:"sourceSnapshotId,omitempty"`
	SourceVolumeID   string `json:"sourceVolumeId,omitempty"`
}

type snapshotMeta struct {
	Name           string    `json:"name"`
	SourceVolumeID string    `json:"sourceVolumeId"`
	SizeBytes      int64     `json:"sizeBytes"`
	CreatedAt      time.Time `json:"createdAt"`
}

func (s store) volumePath(id string) string   { return filepath.Join(s.root, "volumes", id) }
func (s store) snapshotPath(id string) string { return filepath.Join(s.root, "snapshots", id) }
func (s store) volumeMetaPath(id string) string {
	return filepath.Join(s.root, "meta", "volumes", id+".json")
}
func (s store) snapshotMetaPath(id string) string {
	return filepath.Join(s.root, "meta", "snapshots", id+".json")
}

func (s store) init() error {
	for _, d := range []string{"volumes", "snapshots", filepath.Join("meta", "volumes"), filepath.Join("meta", "snapshots")} {
		if err := os.MkdirAll(filepath.Join(s.root, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// readJSON returns (false, nil) when the file does not exist.
func readJSON(path string, into any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// writeJSON replaces path atomically: a crash leaves the old file or the new one, never half of
// it. The metadata file is written last, so it is what marks a volume or snapshot as complete.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s store) volume(id string) (*volumeMeta, error) {
	if !ValidVolumeID(id) {
		return nil, nil
	}
	var m volumeMeta
	ok, err := readJSON(s.volumeMetaPath(id), &m)
	if !ok || err != nil {
		return nil, err
	}
	return &m, nil
}

func (s store) snapshot(id string) (*snapshotMeta, error) {
	if !ValidSnapshotID(id) {
		return nil, nil
	}
	var m snapshotMeta
	ok, err := readJSON(s.snapshotMetaPath(id), &m)
	if !ok || err != nil {
		return nil, err
	}
	return &m, nil
}

// snapshotIDs lists the complete snapshots (those with metadata).
func (s store) snapshotIDs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "meta", "snapshots"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && ValidSnapshotID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
