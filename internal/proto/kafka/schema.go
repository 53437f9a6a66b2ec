package kafka

// A program is the part of a message layout this package reads, as a
// list of field operations that a streaming interpreter (walker) runs
// over the bytes as they come. Arrays are loops; bytes fields (record
// batches) and strings nobody needs are skipped by counting, so a 50 MB
// fetch response costs no memory. A program stops (opStop) once what it
// wants has been read: the rest of the frame is counted, not decoded.
type opcode uint8

const (
	opI8     opcode = iota + 1
	opI16           // int16
	opI32           // int32
	opI64           // int64
	opUUID          // 16 bytes
	opStr           // int16 length, then bytes (-1: null)
	opCStr          // unsigned varint length+1, then bytes (0: null)
	opBytes         // int32 length, then bytes (-1: null)
	opCBytes        // unsigned varint length+1, then bytes (0: null)
	opArr           // int32 count (-1: null), then the body up to the matching opEnd, count times
	opCArr          // unsigned varint count+1 (0: null)
	opEnd           // end of an array body
	opTags          // tagged fields: uvarint count, then (uvarint tag, uvarint size, size bytes)
	opStop          // nothing more to read
	opHeader        // end of the fixed header part: the parser picks the rest of the program
)

// capKind says what a field's value is kept as.
type capKind uint8

const (
	capNone      capKind = iota
	capKey               // request header: api key
	capVer               // request header: api version
	capCorr              // correlation id
	capClientID          // request header: client id
	capTopic             // a topic name
	capTopicID           // a topic id (UUID)
	capPartition         // a partition index
	capErr               // a per-partition error code
	capTopErr            // a response's top-level error code
	capAcks              // Produce acks
	capGroup             // a group id
)

type op struct {
	code opcode
	cap  capKind
	// jump: for opArr/opCArr, the index of the matching opEnd (a null or
	// empty array skips its body); for opEnd, the index of the body's
	// first op.
	jump int16
}

// builder assembles a program for one API version.
type builder struct {
	ops  []op
	flex bool
}

func (b *builder) add(c opcode, k capKind) { b.ops = append(b.ops, op{code: c, cap: k}) }

func (b *builder) i8()            { b.add(opI8, capNone) }
func (b *builder) i16(k capKind)  { b.add(opI16, k) }
func (b *builder) i32(k capKind)  { b.add(opI32, k) }
func (b *builder) i64()           { b.add(opI64, capNone) }
func (b *builder) uuid(k capKind) { b.add(opUUID, k) }
func (b *builder) stop()          { b.add(opStop, capNone) }

// str is a string (nullable or not: the encoding is the same).
func (b *builder) str(k capKind) {
	if b.flex {
		b.add(opCStr, k)
	} else {
		b.add(opStr, k)
	}
}

// bytes is a bytes or records field.
func (b *builder) bytes() {
	if b.flex {
		b.add(opCBytes, capNone)
	} else {
		b.add(opBytes, capNone)
	}
}

// tags is a tagged-fields section, present only in flexible versions.
func (b *builder) tags() {
	if b.flex {
		b.add(opTags, capNone)
	}
}

// arr is an array whose elements body describes; in flexible versions
// every element ends with tagged fields unless noTags (arrays of
// primitives).
func (b *builder) arr(body func()) {
	start := len(b.ops)
	if b.flex {
		b.add(opCArr, capNone)
	} else {
		b.add(opArr, capNone)
	}
	body()
	b.ops = append(b.ops, op{code: opEnd, jump: int16(start + 1)})
	b.ops[start].jump = int16(len(b.ops) - 1)
}

// topic is a topic name, or from version idVer on a topic id.
func (b *builder) topic(v, idVer int16, k capKind) {
	if idVer >= 0 && v >= idVer {
		if k == capTopic {
			k = capTopicID
		}
		b.uuid(k)
		return
	}
	b.str(k)
}

// body returns the program for the body of a request (resp false) or a
// response of api key/version v, or nil when this package reads nothing
// of it.
func body(key, v int16, resp bool) []op {
	b := &builder{flex: flexible(key, v)}
	if resp {
		respBody(b, key, v)
	} else {
		reqBody(b, key, v)
	}
	if len(b.ops) == 0 {
		return nil
	}
	b.stop()
	return b.ops
}

func reqBody(b *builder, key, v int16) {
	switch key {
	case 0: // Produce
		if v >= 3 {
			b.str(capNone) // transactional_id
		}
		b.i16(capAcks)
		b.i32(capNone) // timeout_ms
		b.arr(func() {
			b.topic(v, 13, capTopic)
			b.arr(func() {
				b.i32(capPartition)
				b.bytes() // records
				b.tags()
			})
			b.tags()
		})
	case 1: // Fetch
		if v <= 14 {
			b.i32(capNone) // replica_id (v15+: a tagged field)
		}
		b.i32(capNone) // max_wait_ms
		b.i32(capNone) // min_bytes
		if v >= 3 {
			b.i32(capNone) // max_bytes
		}
		if v >= 4 {
			b.i8() // isolation_level
		}
		if v >= 7 {
			b.i32(capNone) // session_id
			b.i32(capNone) // session_epoch
		}
		b.arr(func() {
			b.topic(v, 13, capTopic)
			b.arr(func() {
				b.i32(capPartition)
				if v >= 9 {
					b.i32(capNone) // current_leader_epoch
				}
				b.i64() // fetch_offset
				if v >= 12 {
					b.i32(capNone) // last_fetched_epoch
				}
				if v >= 5 {
					b.i64() // log_start_offset
				}
				b.i32(capNone) // partition_max_bytes
				b.tags()       // v17+ replica_directory_id, v18+ high_watermark are tagged
			})
			b.tags()
		})
	case 2: // ListOffsets
		b.i32(capNone) // replica_id
		if v >= 2 {
			b.i8() // isolation_level
		}
		b.arr(func() {
			b.str(capTopic)
			b.arr(func() {
				b.i32(capPartition)
				if v >= 4 {
					b.i32(capNone) // current_leader_epoch
				}
				b.i64() // timestamp
				if v == 0 {
					b.i32(capNone) // max_num_offsets
				}
				b.tags()
			})
			b.tags()
		})
	case 3: // Metadata
		b.arr(func() {
			if v >= 10 {
				b.uuid(capNone) // topic_id
			}
			b.str(capTopic)
			b.tags()
		})
	case 11, 12, 13, 14, 68: // JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ConsumerGroupHeartbeat
		b.str(capGroup)
	case 8: // OffsetCommit
		b.str(capGroup)
		if v >= 1 {
			b.i32(capNone) // generation_id_or_member_epoch
			b.str(capNone) // member_id
		}
		if v >= 7 {
			b.str(capNone) // group_instance_id
		}
		if v >= 2 && v <= 4 {
			b.i64() // retention_time_ms
		}
		b.arr(func() {
			b.topic(v, 10, capTopic)
			b.arr(func() {
				b.i32(capPartition)
				b.i64() // committed_offset
				if v >= 6 {
					b.i32(capNone) // committed_leader_epoch
				}
				if v == 1 {
					b.i64() // commit_timestamp
				}
				b.str(capNone) // committed_metadata
				b.tags()
			})
			b.tags()
		})
	case 9: // OffsetFetch: one group and its topics before v8, a list of groups after
		if v < 8 {
			b.str(capGroup)
			b.arr(func() {
				b.str(capTopic)
				b.arr(func() { b.i32(capPartition) })
				b.tags()
			})
		}
	case 15: // DescribeGroups
		b.arr(func() {
			b.str(capGroup)
		})
	case 28: // TxnOffsetCommit
		b.str(capNone) // transactional_id
		b.str(capGroup)
	case 25: // AddOffsetsToTxn
		b.str(capNone) // transactional_id
		b.i64()        // producer_id
		b.i16(capNone) // producer_epoch
		b.str(capGroup)
	}
}

// throttleFirst lists the APIs whose response starts with
// throttle_time_ms (from the version given) and then the top-level
// error_code.
var throttleFirst = map[int16]int16{
	11: 2, // JoinGroup
	12: 1, // Heartbeat
	13: 1, // LeaveGroup
	14: 1, // SyncGroup
	16: 1, // ListGroups
	22: 0, // InitProducerId
	25: 0, // AddOffsetsToTxn
	26: 0, // EndTxn
	45: 0, // AlterPartitionReassignments
	46: 0, // ListPartitionReassignments
	50: 0, // DescribeUserScramCredentials
	56: 0, // AlterPartition
	57: 0, // UpdateFeatures
	60: 0, // DescribeCluster
	62: 0, // BrokerRegistration
	63: 0, // BrokerHeartbeat
	67: 0, // AllocateProducerIds
	68: 0, // ConsumerGroupHeartbeat
	71: 0, // GetTelemetrySubscriptions
	72: 0, // PushTelemetry
	76: 0, // ShareGroupHeartbeat
}

// errorFirst lists the APIs whose response starts with the top-level
// error_code.
var errorFirst = map[int16]bool{
	4:  true, // LeaderAndIsr
	5:  true, // StopReplica
	6:  true, // UpdateMetadata
	7:  true, // ControlledShutdown
	17: true, // SaslHandshake
	18: true, // ApiVersions
	36: true, // SaslAuthenticate
	47: true, // OffsetDelete
	55: true, // DescribeQuorum
}

func respBody(b *builder, key, v int16) {
	switch key {
	case 0: // Produce
		b.arr(func() {
			b.topic(v, 13, capNone)
			b.arr(func() {
				b.i32(capNone) // index
				b.i16(capErr)
				b.i64() // base_offset
				if v >= 2 {
					b.i64() // log_append_time_ms
				}
				if v >= 5 {
					b.i64() // log_start_offset
				}
				if v >= 8 {
					b.arr(func() { // record_errors
						b.i32(capNone)
						b.str(capNone)
						b.tags()
					})
					b.str(capNone) // error_message
				}
				b.tags()
			})
			b.tags()
		})
	case 1: // Fetch
		if v >= 1 {
			b.i32(capNone) // throttle_time_ms
		}
		if v >= 7 {
			b.i16(capTopErr)
			b.i32(capNone) // session_id
		}
		b.arr(func() {
			b.topic(v, 13, capNone)
			b.arr(func() {
				b.i32(capNone) // partition_index
				b.i16(capErr)
				b.i64() // high_watermark
				if v >= 4 {
					b.i64() // last_stable_offset
				}
				if v >= 5 {
					b.i64() // log_start_offset
				}
				if v >= 4 {
					b.arr(func() { // aborted_transactions
						b.i64()
						b.i64()
						b.tags()
					})
				}
				if v >= 11 {
					b.i32(capNone) // preferred_read_replica
				}
				b.bytes() // records
				b.tags()
			})
			b.tags()
		})
	case 2: // ListOffsets
		if v >= 2 {
			b.i32(capNone) // throttle_time_ms
		}
		b.arr(func() {
			b.str(capNone)
			b.arr(func() {
				b.i32(capNone) // partition_index
				b.i16(capErr)
				if v == 0 {
					b.arr(func() { b.i64() }) // old_style_offsets
				} else {
					b.i64() // timestamp
					b.i64() // offset
					if v >= 4 {
						b.i32(capNone) // leader_epoch
					}
				}
				b.tags()
			})
			b.tags()
		})
	case 8: // OffsetCommit
		if v >= 3 {
			b.i32(capNone) // throttle_time_ms
		}
		b.arr(func() {
			b.topic(v, 10, capNone)
			b.arr(func() {
				b.i32(capNone) // partition_index
				b.i16(capErr)
				b.tags()
			})
			b.tags()
		})
	case 10: // FindCoordinator: a single coordinator before v4
		if v >= 1 && v < 4 {
			b.i32(capNone)
		}
		if v < 4 {
			b.i16(capTopErr)
		}
	default:
		if errorFirst[key] {
			b.i16(capTopErr)
		} else if min, ok := throttleFirst[key]; ok {
			if v >= min {
				b.i32(capNone)
			}
			b.i16(capTopErr)
		}
	}
}

// programs holds, per API key and version, the program for the rest of a
// request after api_key, api_version and correlation_id (client_id, the
// header's tagged fields, the body) and for the rest of a response after
// its correlation_id.
type programs struct {
	req, resp [len(apis)][][]op
}

var progs = func() *programs {
	p := &programs{}
	for k := range apis {
		key := int16(k)
		n := apis[k].maxVer + 1
		p.req[k] = make([][]op, n)
		p.resp[k] = make([][]op, n)
		for v := range n {
			flex := flexible(key, v)
			// Request header v0 (ControlledShutdown v0 only) has no
			// client_id; v1 adds it; v2 adds tagged fields after it.
			var req []op
			if key != 7 || v != 0 {
				req = append(req, op{code: opStr, cap: capClientID})
			}
			if flex {
				req = append(req, op{code: opTags})
			}
			req = append(req, shift(body(key, v, false), len(req))...)
			p.req[k][v] = req
			// Response header v1 (tagged fields) for flexible versions,
			// except ApiVersions: a client must read its response
			// without knowing which versions the broker speaks.
			var resp []op
			if flex && key != 18 {
				resp = append(resp, op{code: opTags})
			}
			resp = append(resp, shift(body(key, v, true), len(resp))...)
			p.resp[k][v] = resp
		}
	}
	return p
}()

// shift moves a program's jumps by n, for prepending n ops.
func shift(ops []op, n int) []op {
	for i := range ops {
		if ops[i].code == opArr || ops[i].code == opCArr || ops[i].code == opEnd {
			ops[i].jump += int16(n)
		}
	}
	return ops
}

// Header programs: what is read before the parser knows the API.
var (
	reqHeader  = []op{{code: opI16, cap: capKey}, {code: opI16, cap: capVer}, {code: opI32, cap: capCorr}, {code: opHeader}}
	respHeader = []op{{code: opI32, cap: capCorr}, {code: opHeader}}
	// clientOnly reads the client id of a request whose body layout is
	// unknown (an API version past the table).
	clientOnly = []op{{code: opStr, cap: capClientID}, {code: opStop}}
)

// reqProgram returns the program for the rest of a request.
func reqProgram(key, ver int16) []op {
	if key < 0 || int(key) >= len(apis) || ver < 0 {
		return nil
	}
	if ver > apis[key].maxVer {
		return clientOnly
	}
	return progs.req[key][ver]
}

// respProgram returns the program for the rest of a response.
func respProgram(key, ver int16) []op {
	if key < 0 || int(key) >= len(apis) || ver < 0 || ver > apis[key].maxVer {
		return nil
	}
	return progs.resp[key][ver]
}
