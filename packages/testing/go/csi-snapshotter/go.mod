// Wrapper module: builds csi-snapshotter from github.com/kubernetes-csi/external-snapshotter/v8 (see ../versions.json; binaries.ts keeps the version in sync).
module kubectl-dbaas.local/testing/csi-snapshotter

go 1.26.0

require github.com/kubernetes-csi/external-snapshotter/v8 v8.7.0
