module kubectl-dbaas.local/testing/btrfs-csi

go 1.26.0

require (
	github.com/container-storage-interface/spec v1.14.0
	github.com/kubernetes-csi/csi-lib-utils v0.25.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260825221802-da73d73af1c5 // indirect
)
