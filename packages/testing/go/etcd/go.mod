// Wrapper module: builds etcd from go.etcd.io/etcd/server/v3 (see ../versions.json; binaries.ts keeps the version in sync).
module kubectl-dbaas.local/testing/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.8
