module redundant.kube/test/pause

go 1.22
