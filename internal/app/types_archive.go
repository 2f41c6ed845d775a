package app

// archiveTypes are the archive destinations (S3).
func archiveTypes() map[string]streamType {
	return map[string]streamType{}
}
