package app

// destinationTypes are the SIEM and cloud destinations: EventBridge,
// CloudWatch Logs, Splunk HEC, Datadog, Elasticsearch/OpenSearch.
func destinationTypes() map[string]streamType {
	return map[string]streamType{}
}
