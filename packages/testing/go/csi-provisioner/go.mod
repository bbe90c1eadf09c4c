// Wrapper module: builds csi-provisioner from github.com/kubernetes-csi/external-provisioner/v6 (see ../versions.json; binaries.ts keeps the version in sync).
module kubectl-dbaas.local/testing/csi-provisioner

go 1.26.0

require github.com/kubernetes-csi/external-provisioner/v6 v6.3.0
