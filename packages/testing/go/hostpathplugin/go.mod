// Wrapper module: builds hostpathplugin from github.com/kubernetes-csi/csi-driver-host-path (see ../versions.json, csiDriver; binaries.ts adds the requirement with `go get`).
module kubectl-dbaas.local/testing/hostpathplugin

go 1.26.0
