package driver

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// checkCapabilities accepts what a bind-mounted directory on one node can give: the mount access
// type and the single-node access modes. Block volumes would need a device, which a subvolume is not.
func checkCapabilities(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for _, c := range caps {
		if err := checkCapability(c); err != nil {
			return err
		}
	}
	return nil
}

func checkCapability(c *csi.VolumeCapability) error {
	if c == nil {
		return status.Error(codes.InvalidArgument, "volume capability is required")
	}
	if c.GetBlock() != nil {
		return status.Error(codes.InvalidArgument, "block volumes are not supported: a btrfs subvolume is a directory")
	}
	if c.GetMount() == nil {
		return status.Error(codes.InvalidArgument, "the access type must be mount")
	}
	switch c.GetAccessMode().GetMode() {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:
		return nil
	default:
		return status.Errorf(codes.InvalidArgument, "access mode %v is not supported: volumes live on one node", c.GetAccessMode().GetMode())
	}
}

// capacityFor picks the capacity of a new volume from the requested range. sourceBytes is the
// capacity of the snapshot or volume it is made from (0 without one): a volume smaller than its
// source could not hold its data, so that is refused, and without a requested size the volume gets
// the source's size.
func capacityFor(r *csi.CapacityRange, sourceBytes int64) (int64, error) {
	required, limit := r.GetRequiredBytes(), r.GetLimitBytes()
	if required < 0 || limit < 0 {
		return 0, status.Error(codes.InvalidArgument, "capacity range must not be negative")
	}
	if limit > 0 && required > limit {
		return 0, status.Errorf(codes.InvalidArgument, "required_bytes %d exceeds limit_bytes %d", required, limit)
	}
	if sourceBytes > 0 {
		if required > 0 && required < sourceBytes || limit > 0 && limit < sourceBytes {
			return 0, status.Errorf(codes.OutOfRange, "requested size (required %d, limit %d) is smaller than the source's %d bytes", required, limit, sourceBytes)
		}
		if required == 0 {
			return sourceBytes, nil
		}
		return required, nil
	}
	if required > 0 {
		return required, nil
	}
	if limit > 0 && limit < DefaultCapacityBytes {
		return limit, nil
	}
	return DefaultCapacityBytes, nil
}

func (d *Driver) topology() *csi.Topology {
	return &csi.Topology{Segments: map[string]string{TopologyKey: d.cfg.NodeID}}
}

// reachable tells whether this driver's one node satisfies the requisite topology (none = any).
func (d *Driver) reachable(req *csi.TopologyRequirement) bool {
	if len(req.GetRequisite()) == 0 {
		return true
	}
	for _, t := range req.GetRequisite() {
		if v, ok := t.GetSegments()[TopologyKey]; ok && v == d.cfg.NodeID {
			return true
		}
	}
	return false
}

func internal(err error) error {
	return status.Error(codes.Internal, err.Error())
}

func (d *Driver) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	if !d.reachable(req.GetAccessibilityRequirements()) {
		return nil, status.Errorf(codes.ResourceExhausted, "node %s is not in the requisite topology", d.cfg.NodeID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	want := volumeMeta{Name: req.GetName()}
	var sourcePath string
	var sourceBytes int64
	if src := req.GetVolumeContentSource(); src != nil {
		switch {
		case src.GetSnapshot() != nil:
			id := src.GetSnapshot().GetSnapshotId()
			snap, err := d.store.snapshot(id)
			if err != nil {
				return nil, internal(err)
			}
			if snap == nil {
				return nil, status.Errorf(codes.NotFound, "source snapshot %q not found", id)
			}
			want.SourceSnapshotID, sourcePath, sourceBytes = id, d.store.snapshotPath(id), snap.SizeBytes
		case src.GetVolume() != nil:
			id := src.GetVolume().GetVolumeId()
			vol, err := d.store.volume(id)
			if err != nil {
				return nil, internal(err)
			}
			if vol == nil {
				return nil, status.Errorf(codes.NotFound, "source volume %q not found", id)
			}
			want.SourceVolumeID, sourcePath, sourceBytes = id, d.store.volumePath(id), vol.CapacityBytes
		default:
			return nil, status.Error(codes.InvalidArgument, "unknown volume content source")
		}
	}
	capacity, err := capacityFor(req.GetCapacityRange(), sourceBytes)
	if err != nil {
		return nil, err
	}
	want.CapacityBytes = capacity

	id := VolumeIDFor(req.GetName())
	have, err := d.store.volume(id)
	if err != nil {
		return nil, internal(err)
	}
	if have != nil {
		r := req.GetCapacityRange()
		fits := have.CapacityBytes >= r.GetRequiredBytes() && (r.GetLimitBytes() == 0 || have.CapacityBytes <= r.GetLimitBytes())
		if !fits || have.SourceSnapshotID != want.SourceSnapshotID || have.SourceVolumeID != want.SourceVolumeID {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with another size or content source", req.GetName())
		}
		return d.volumeResponse(id, have, req.GetVolumeContentSource()), nil
	}

	path := d.store.volumePath(id)
	// A subvolume without metadata is what a crash between the two steps leaves: start again.
	if err := deleteSubvolume(ctx, path); err != nil {
		return nil, internal(err)
	}
	if sourcePath != "" {
		err = snapshotSubvolume(ctx, sourcePath, path, false)
	} else {
		err = createSubvolume(ctx, path)
		if err == nil {
			// The database images run as their own users (postgres 999, mysql) with no fsGroup: an
			// empty volume must be writable by them, as a fresh directory of the hostpath driver
			// is. A clone or restore keeps its source's owner and mode.
			err = os.Chmod(path, 0o777)
		}
	}
	if err != nil {
		_ = deleteSubvolume(context.Background(), path)
		return nil, internal(err)
	}
	if err := writeJSON(d.store.volumeMetaPath(id), want); err != nil {
		_ = deleteSubvolume(context.Background(), path)
		return nil, internal(err)
	}
	return d.volumeResponse(id, &want, req.GetVolumeContentSource()), nil
}

func (d *Driver) volumeResponse(id string, m *volumeMeta, src *csi.VolumeContentSource) *csi.CreateVolumeResponse {
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId:           id,
		CapacityBytes:      m.CapacityBytes,
		ContentSource:      src,
		AccessibleTopology: []*csi.Topology{d.topology()},
	}}
}

func (d *Driver) DeleteVolume(ctx context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	if !ValidVolumeID(id) {
		// Not an id of ours, so there is nothing of it to delete.
		return &csi.DeleteVolumeResponse{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The subvolume first: a crash in between leaves metadata whose retry finishes the job, never
	// an orphan subvolume nothing points at.
	if err := deleteSubvolume(ctx, d.store.volumePath(id)); err != nil {
		return nil, internal(err)
	}
	if err := os.Remove(d.store.volumeMetaPath(id)); err != nil && !os.IsNotExist(err) {
		return nil, internal(err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *Driver) ValidateVolumeCapabilities(ctx context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	vol, err := d.store.volume(req.GetVolumeId())
	if err != nil {
		return nil, internal(err)
	}
	if vol == nil {
		return nil, status.Errorf(codes.NotFound, "volume %q not found", req.GetVolumeId())
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: status.Convert(err).Message()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func (d *Driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
		csi.ControllerServiceCapability_RPC_GET_CAPACITY,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

// GetCapacity is the free space of the filesystem: capacities are bookkeeping, not quotas, so
// this is what really bounds new data.
func (d *Driver) GetCapacity(ctx context.Context, req *csi.GetCapacityRequest) (*csi.GetCapacityResponse, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.cfg.Root, &st); err != nil {
		return nil, internal(err)
	}
	return &csi.GetCapacityResponse{AvailableCapacity: int64(st.Bavail) * int64(st.Bsize)}, nil
}

func (d *Driver) CreateSnapshot(ctx context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	if req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "source volume id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	id := SnapshotIDFor(req.GetName())
	have, err := d.store.snapshot(id)
	if err != nil {
		return nil, internal(err)
	}
	if have != nil {
		if have.SourceVolumeID != req.GetSourceVolumeId() {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %q exists for another source volume", req.GetName())
		}
		return &csi.CreateSnapshotResponse{Snapshot: snapshotOf(id, have)}, nil
	}
	vol, err := d.store.volume(req.GetSourceVolumeId())
	if err != nil {
		return nil, internal(err)
	}
	if vol == nil {
		return nil, status.Errorf(codes.NotFound, "source volume %q not found", req.GetSourceVolumeId())
	}
	path := d.store.snapshotPath(id)
	if err := deleteSubvolume(ctx, path); err != nil {
		return nil, internal(fmt.Errorf("removing the leftover of an interrupted snapshot: %w", err))
	}
	m := snapshotMeta{Name: req.GetName(), SourceVolumeID: req.GetSourceVolumeId(), SizeBytes: vol.CapacityBytes, CreatedAt: time.Now().UTC()}
	if err := snapshotSubvolume(ctx, d.store.volumePath(req.GetSourceVolumeId()), path, true); err != nil {
		return nil, internal(err)
	}
	if err := writeJSON(d.store.snapshotMetaPath(id), m); err != nil {
		_ = deleteSubvolume(context.Background(), path)
		return nil, internal(err)
	}
	return &csi.CreateSnapshotResponse{Snapshot: snapshotOf(id, &m)}, nil
}

func snapshotOf(id string, m *snapshotMeta) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     id,
		SourceVolumeId: m.SourceVolumeID,
		SizeBytes:      m.SizeBytes,
		CreationTime:   timestamppb.New(m.CreatedAt),
		// The read-only subvolume exists in full the moment the ioctl returns: nothing to upload.
		ReadyToUse: true,
	}
}

func (d *Driver) DeleteSnapshot(ctx context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id is required")
	}
	if !ValidSnapshotID(id) {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := deleteSubvolume(ctx, d.store.snapshotPath(id)); err != nil {
		return nil, internal(err)
	}
	if err := os.Remove(d.store.snapshotMetaPath(id)); err != nil && !os.IsNotExist(err) {
		return nil, internal(err)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *Driver) ListSnapshots(ctx context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	if req.GetMaxEntries() < 0 {
		return nil, status.Error(codes.InvalidArgument, "max_entries must not be negative")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	if req.GetSnapshotId() != "" {
		ids = []string{req.GetSnapshotId()}
	} else {
		all, err := d.store.snapshotIDs()
		if err != nil {
			return nil, internal(err)
		}
		ids = all
	}
	metas := map[string]*snapshotMeta{}
	var matching []string
	for _, id := range ids {
		m, err := d.store.snapshot(id)
		if err != nil {
			return nil, internal(err)
		}
		if m == nil || req.GetSourceVolumeId() != "" && m.SourceVolumeID != req.GetSourceVolumeId() {
			continue
		}
		metas[id] = m
		matching = append(matching, id)
	}
	page, next, err := Page(matching, req.GetStartingToken(), int(req.GetMaxEntries()))
	if err != nil {
		return nil, status.Error(codes.Aborted, err.Error())
	}
	resp := &csi.ListSnapshotsResponse{NextToken: next}
	for _, id := range page {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: snapshotOf(id, metas[id])})
	}
	return resp, nil
}
