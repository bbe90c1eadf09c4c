// Package driver is a CSI driver on btrfs for the kubectl-dbaas test cluster: volumes are btrfs
// subvolumes, snapshots read-only subvolume snapshots (atomic, copy-on-write), publishing a bind
// mount. It is a test driver for one node, not a production one.
package driver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/kubernetes-csi/csi-lib-utils/protosanitizer"
	"google.golang.org/grpc"
)

const (
	// Name is the CSI driver name: ours, and plainly a test driver.
	Name = "btrfs.test.csi.kubectl-dbaas.io"
	// TopologyKey is the topology segment naming the node a volume lives on.
	TopologyKey = "topology.btrfs.test.csi.kubectl-dbaas.io/node"
	// DefaultCapacityBytes is the capacity of a volume created without a requested size.
	DefaultCapacityBytes int64 = 1 << 30
)

// Config is what the driver is started with.
type Config struct {
	// Root is a directory on a mounted btrfs filesystem, owned by the driver.
	Root    string
	NodeID  string
	Version string
}

// Driver serves the CSI identity, controller and node services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	cfg   Config
	store store
	// mu serialises every change: the external sidecars retry and may run calls for one name in
	// parallel, and a test driver gains nothing from finer locking.
	mu sync.Mutex
}

// New checks the root (a btrfs filesystem) and prepares its layout.
func New(cfg Config) (*Driver, error) {
	if cfg.Root == "" || cfg.NodeID == "" {
		return nil, errors.New("root and node id are required")
	}
	if err := checkBtrfs(cfg.Root); err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, store: store{root: cfg.Root}}
	if err := d.store.init(); err != nil {
		return nil, err
	}
	return d, nil
}

// ParseEndpoint accepts unix:///abs/path (the sidecars' form) and returns the socket path.
func ParseEndpoint(endpoint string) (string, error) {
	path, ok := strings.CutPrefix(endpoint, "unix://")
	if !ok || path == "" {
		return "", fmt.Errorf("endpoint %q: only unix://<path> is supported", endpoint)
	}
	return path, nil
}

// Listen opens the unix socket of endpoint, replacing a stale socket file left by a previous run.
func Listen(endpoint string) (net.Listener, error) {
	path, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	return net.Listen("unix", path)
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		log.Printf("%s %s: error: %v", info.FullMethod, protosanitizer.StripSecrets(req), err)
	} else {
		log.Printf("%s %s: ok", info.FullMethod, protosanitizer.StripSecrets(req))
	}
	return resp, err
}

// Server returns a gRPC server with the driver's three services registered.
func (d *Driver) Server() *grpc.Server {
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	return srv
}
