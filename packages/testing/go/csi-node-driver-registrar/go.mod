// Wrapper module: builds csi-node-driver-registrar from github.com/kubernetes-csi/node-driver-registrar (see ../versions.json, csiDriver; binaries.ts adds the requirement with `go get`).
module kubectl-dbaas.local/testing/csi-node-driver-registrar

go 1.26.0
