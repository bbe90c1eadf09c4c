// Command btrfs-csi is the kubectl-dbaas test cluster's CSI driver on btrfs (see package driver).
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"kubectl-dbaas.local/testing/btrfs-csi/driver"
)

// version is stamped at build time when wanted; the driver's behaviour does not depend on it.
var version = "dev"

func main() {
	endpoint := flag.String("endpoint", "", "CSI endpoint, unix:///path/to/csi.sock")
	root := flag.String("root", "", "directory on a mounted btrfs filesystem holding the volumes and snapshots")
	nodeID := flag.String("node-id", "", "this node's id (NodeGetInfo and the topology segment)")
	flag.Parse()
	if *endpoint == "" || *root == "" || *nodeID == "" {
		flag.Usage()
		os.Exit(2)
	}
	d, err := driver.New(driver.Config{Root: *root, NodeID: *nodeID, Version: version})
	if err != nil {
		log.Fatalf("btrfs-csi: %v", err)
	}
	lis, err := driver.Listen(*endpoint)
	if err != nil {
		log.Fatalf("btrfs-csi: %v", err)
	}
	srv := d.Server()
	go func() {
		// A graceful stop lets a CreateSnapshot in flight finish writing its metadata.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.GracefulStop()
	}()
	log.Printf("btrfs-csi %s (%s) serving on %s, root %s, node %s", version, driver.Name, *endpoint, *root, *nodeID)
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("btrfs-csi: %v", err)
	}
}
