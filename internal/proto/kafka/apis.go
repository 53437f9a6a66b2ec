package kafka

// api describes one Kafka API key: its name, the highest version this
// package knows (Kafka 4.1's message definitions,
// clients/src/main/resources/common/message/*.json), and the first
// "flexible" version (KIP-482: compact strings and arrays, tagged fields,
// request header v2, response header v1); -1: none is flexible.
type api struct {
	name    string
	maxVer  int16
	flexVer int16
}

var apis = [...]api{
	0:  {"Produce", 13, 9},
	1:  {"Fetch", 18, 12},
	2:  {"ListOffsets", 10, 6},
	3:  {"Metadata", 13, 9},
	4:  {"LeaderAndIsr", 7, 4},
	5:  {"StopReplica", 4, 2},
	6:  {"UpdateMetadata", 8, 6},
	7:  {"ControlledShutdown", 3, 3},
	8:  {"OffsetCommit", 10, 8},
	9:  {"OffsetFetch", 10, 6},
	10: {"FindCoordinator", 6, 3},
	11: {"JoinGroup", 9, 6},
	12: {"Heartbeat", 4, 4},
	13: {"LeaveGroup", 5, 4},
	14: {"SyncGroup", 5, 4},
	15: {"DescribeGroups", 6, 5},
	16: {"ListGroups", 5, 3},
	17: {"SaslHandshake", 1, -1},
	18: {"ApiVersions", 4, 3},
	19: {"CreateTopics", 7, 5},
	20: {"DeleteTopics", 6, 4},
	21: {"DeleteRecords", 2, 2},
	22: {"InitProducerId", 6, 2},
	23: {"OffsetForLeaderEpoch", 4, 4},
	24: {"AddPartitionsToTxn", 5, 3},
	25: {"AddOffsetsToTxn", 4, 3},
	26: {"EndTxn", 5, 3},
	27: {"WriteTxnMarkers", 1, 1},
	28: {"TxnOffsetCommit", 5, 3},
	29: {"DescribeAcls", 3, 2},
	30: {"CreateAcls", 3, 2},
	31: {"DeleteAcls", 3, 2},
	32: {"DescribeConfigs", 4, 4},
	33: {"AlterConfigs", 2, 2},
	34: {"AlterReplicaLogDirs", 2, 2},
	35: {"DescribeLogDirs", 4, 2},
	36: {"SaslAuthenticate", 2, 2},
	37: {"CreatePartitions", 3, 2},
	38: {"CreateDelegationToken", 3, 2},
	39: {"RenewDelegationToken", 2, 2},
	40: {"ExpireDelegationToken", 2, 2},
	41: {"DescribeDelegationToken", 3, 2},
	42: {"DeleteGroups", 2, 2},
	43: {"ElectLeaders", 2, 2},
	44: {"IncrementalAlterConfigs", 1, 1},
	45: {"AlterPartitionReassignments", 1, 0},
	46: {"ListPartitionReassignments", 0, 0},
	47: {"OffsetDelete", 0, -1},
	48: {"DescribeClientQuotas", 1, 1},
	49: {"AlterClientQuotas", 1, 1},
	50: {"DescribeUserScramCredentials", 0, 0},
	51: {"AlterUserScramCredentials", 0, 0},
	52: {"Vote", 2, 0},
	53: {"BeginQuorumEpoch", 1, 1},
	54: {"EndQuorumEpoch", 1, 1},
	55: {"DescribeQuorum", 2, 0},
	56: {"AlterPartition", 3, 0},
	57: {"UpdateFeatures", 2, 0},
	58: {"Envelope", 0, 0},
	59: {"FetchSnapshot", 1, 0},
	60: {"DescribeCluster", 2, 0},
	61: {"DescribeProducers", 0, 0},
	62: {"BrokerRegistration", 4, 0},
	63: {"BrokerHeartbeat", 1, 0},
	64: {"UnregisterBroker", 0, 0},
	65: {"DescribeTransactions", 0, 0},
	66: {"ListTransactions", 2, 0},
	67: {"AllocateProducerIds", 0, 0},
	68: {"ConsumerGroupHeartbeat", 1, 0},
	69: {"ConsumerGroupDescribe", 1, 0},
	70: {"ControllerRegistration", 0, 0},
	71: {"GetTelemetrySubscriptions", 0, 0},
	72: {"PushTelemetry", 0, 0},
	73: {"AssignReplicasToDirs", 0, 0},
	74: {"ListConfigResources", 1, 0},
	75: {"DescribeTopicPartitions", 0, 0},
	76: {"ShareGroupHeartbeat", 1, 0},
	77: {"ShareGroupDescribe", 1, 0},
	78: {"ShareFetch", 1, 0},
	79: {"ShareAcknowledge", 1, 0},
	80: {"AddRaftVoter", 0, 0},
	81: {"RemoveRaftVoter", 0, 0},
	82: {"UpdateRaftVoter", 0, 0},
	83: {"InitializeShareGroupState", 0, 0},
	84: {"ReadShareGroupState", 0, 0},
	85: {"WriteShareGroupState", 0, 0},
	86: {"DeleteShareGroupState", 0, 0},
	87: {"ReadShareGroupStateSummary", 0, 0},
	88: {"StreamsGroupHeartbeat", 0, 0},
	89: {"StreamsGroupDescribe", 0, 0},
	90: {"DescribeShareGroupOffsets", 0, 0},
	91: {"AlterShareGroupOffsets", 0, 0},
	92: {"DeleteShareGroupOffsets", 0, 0},
}

// versionSlack lets a header announce a few versions past the table's
// maximum (a newer client) and still be recognised. Bodies of versions
// past the maximum are not decoded: their layout is unknown.
const versionSlack = 2

// names are the API names as byte slices (Transaction.Op).
var names = func() [len(apis)][]byte {
	var n [len(apis)][]byte
	for i, a := range apis {
		n[i] = []byte(a.name)
	}
	return n
}()

var opUnknown = []byte("unknown")

// knownAPI says whether key/ver is an API version a header may carry.
func knownAPI(key, ver int16) bool {
	return key >= 0 && int(key) < len(apis) && ver >= 0 && ver <= apis[key].maxVer+versionSlack
}

// flexible says whether key/ver uses the flexible encoding.
func flexible(key, ver int16) bool {
	if key < 0 || int(key) >= len(apis) {
		return false
	}
	f := apis[key].flexVer
	return f >= 0 && ver >= f
}

// serverErrors are the error codes that report the broker's or the
// cluster's state rather than a fault in the request: the same request
// may succeed later or elsewhere (Kafka's Errors.java marks most of them
// retriable). Every other non-zero code Kafka defines is a client error.
var serverErrors = map[int16]bool{
	-1: true, // UNKNOWN_SERVER_ERROR
	5:  true, // LEADER_NOT_AVAILABLE
	6:  true, // NOT_LEADER_OR_FOLLOWER
	7:  true, // REQUEST_TIMED_OUT
	8:  true, // BROKER_NOT_AVAILABLE
	9:  true, // REPLICA_NOT_AVAILABLE
	13: true, // NETWORK_EXCEPTION
	14: true, // COORDINATOR_LOAD_IN_PROGRESS
	15: true, // COORDINATOR_NOT_AVAILABLE
	16: true, // NOT_COORDINATOR
	19: true, // NOT_ENOUGH_REPLICAS
	20: true, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
	41: true, // NOT_CONTROLLER
	51: true, // CONCURRENT_TRANSACTIONS
	56: true, // KAFKA_STORAGE_ERROR
	57: true, // LOG_DIR_NOT_FOUND
}

// maxErrorCode bounds the codes Kafka defines (the highest are in the
// 130s as of 4.1). A code beyond it, which no version defines, is a
// server error: Kafka's clients map unknown codes to
// UNKNOWN_SERVER_ERROR.
const maxErrorCode = 200

// errorOutcomeServer says whether a non-zero error code is a server
// error.
func errorOutcomeServer(code int16) bool {
	return serverErrors[code] || code > maxErrorCode || code < -1
}
