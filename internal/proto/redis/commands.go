package redis

// cmdKind marks the commands whose handling goes beyond "one request, one
// reply in order".
type cmdKind uint8

const (
	kindPlain       cmdKind = iota
	kindSubscribe           // SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: one confirmation per channel
	kindUnsubscribe         // UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: one per channel, or until the count drops to 0
	kindAuth                // AUTH [username] password
	kindHello               // HELLO [protover [AUTH username password] [SETNAME name]]
	kindMigrate             // MIGRATE ... [AUTH password | AUTH2 username password]
	kindConfig              // CONFIG SET name value ...
	kindSentinel            // SENTINEL SET master name value ...
	kindACL                 // ACL SETUSER name rule... (">pw", "<pw", "#hash", "!hash")
	kindClient              // CLIENT REPLY ON|OFF|SKIP changes which requests get replies
	kindMonitor             // MONITOR: the connection then streams "+..." lines without requests
	kindReset               // RESET: leaves subscribe and monitor modes
	kindXread               // XREAD/XREADGROUP: the first key follows STREAMS
	kindNumkeys             // EVAL-style: script numkeys key...: a key only when numkeys > 0
)

// cmdInfo says where a command's first key is (0: it has none; the index
// counts the command name as 0) and what kind it is.
type cmdInfo struct {
	key  int8
	kind cmdKind
}

// commands lists the Redis 7.x commands (and a few common module
// prefixes are accepted by the detector as plausible names instead). It
// serves three purposes: the detector calls a name it knows proof, the
// parser finds the first key (Target) without guessing that a password or
// a subcommand is a key, and the kinds above get their special handling.
// Commands not listed are still decoded, with the key taken at index 1.
var commands = func() map[string]cmdInfo {
	m := make(map[string]cmdInfo, 256)
	add := func(info cmdInfo, names ...string) {
		for _, n := range names {
			m[n] = info
		}
	}
	// First key right after the command name: the data commands.
	add(cmdInfo{key: 1},
		"APPEND", "BITCOUNT", "BITFIELD", "BITFIELD_RO", "BITPOS", "BLMOVE", "BLPOP", "BRPOP",
		"BRPOPLPUSH", "BZPOPMAX", "BZPOPMIN", "COPY", "DECR", "DECRBY", "DEL", "DUMP", "EXISTS",
		"EXPIRE", "EXPIREAT", "EXPIRETIME", "GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUS",
		"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO", "GEOSEARCH", "GEOSEARCHSTORE",
		"GET", "GETBIT", "GETDEL", "GETEX", "GETRANGE", "GETSET", "HDEL", "HEXISTS", "HEXPIRE",
		"HEXPIREAT", "HEXPIRETIME", "HGET", "HGETALL", "HGETDEL", "HGETEX", "HINCRBY",
		"HINCRBYFLOAT", "HKEYS", "HLEN", "HMGET", "HMSET", "HPERSIST", "HPEXPIRE", "HPEXPIREAT",
		"HPEXPIRETIME", "HPTTL", "HRANDFIELD", "HSCAN", "HSET", "HSETEX", "HSETNX", "HSTRLEN",
		"HTTL", "HVALS", "INCR", "INCRBY", "INCRBYFLOAT", "LCS", "LINDEX", "LINSERT", "LLEN",
		"LMOVE", "LPOP", "LPOS", "LPUSH", "LPUSHX", "LRANGE", "LREM", "LSET", "LTRIM", "MGET",
		"MOVE", "MSET", "MSETNX", "PERSIST", "PEXPIRE", "PEXPIREAT", "PEXPIRETIME", "PFADD",
		"PFCOUNT", "PFMERGE", "PSETEX", "PTTL", "RENAME", "RENAMENX", "RESTORE", "RESTORE-ASKING",
		"RPOP", "RPOPLPUSH", "RPUSH", "RPUSHX", "SADD", "SCARD", "SDIFF", "SDIFFSTORE", "SET",
		"SETBIT", "SETEX", "SETNX", "SETRANGE", "SINTER", "SINTERSTORE", "SISMEMBER", "SMEMBERS",
		"SMISMEMBER", "SMOVE", "SORT", "SORT_RO", "SPOP", "SRANDMEMBER", "SREM", "SSCAN",
		"STRLEN", "SUBSTR", "SUNION", "SUNIONSTORE", "TOUCH", "TTL", "TYPE", "UNLINK", "WATCH",
		"XACK", "XADD", "XAUTOCLAIM", "XCLAIM", "XDEL", "XLEN", "XPENDING", "XRANGE", "XREVRANGE",
		"XSETID", "XTRIM", "ZADD", "ZCARD", "ZCOUNT", "ZDIFFSTORE", "ZINCRBY", "ZINTERSTORE",
		"ZLEXCOUNT", "ZMSCORE", "ZPOPMAX", "ZPOPMIN", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
		"ZRANGEBYSCORE", "ZRANGESTORE", "ZRANK", "ZREM", "ZREMRANGEBYLEX", "ZREMRANGEBYRANK",
		"ZREMRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK",
		"ZSCAN", "ZSCORE", "ZUNIONSTORE",
		// Pub/sub: the channel stands in for the key.
		"PUBLISH", "SPUBLISH")
	add(cmdInfo{key: 1, kind: kindSubscribe}, "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE")
	add(cmdInfo{key: 1, kind: kindUnsubscribe}, "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE")
	// numkeys (or a subcommand, or an operation) before the first key.
	add(cmdInfo{key: 2},
		"ZDIFF", "ZINTER", "ZUNION", "ZINTERCARD", "SINTERCARD", "LMPOP", "ZMPOP", "BITOP",
		"OBJECT", "MEMORY", "XINFO", "XGROUP", "PFDEBUG")
	// timeout numkeys key / host port key.
	add(cmdInfo{key: 3}, "BLMPOP", "BZMPOP")
	add(cmdInfo{key: 3, kind: kindMigrate}, "MIGRATE")
	add(cmdInfo{kind: kindNumkeys}, "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO")
	add(cmdInfo{kind: kindXread}, "XREAD", "XREADGROUP")
	// No key.
	add(cmdInfo{},
		"PING", "ECHO", "SELECT", "QUIT", "INFO", "CLUSTER", "COMMAND", "DBSIZE", "DEBUG",
		"FLUSHALL", "FLUSHDB", "KEYS", "LASTSAVE", "LATENCY", "LOLWUT", "MODULE", "MULTI",
		"EXEC", "DISCARD", "UNWATCH", "PSYNC", "SYNC", "REPLCONF", "REPLICAOF", "SLAVEOF",
		"ROLE", "SAVE", "BGSAVE", "BGREWRITEAOF", "SCAN", "SCRIPT", "SHUTDOWN", "SLOWLOG",
		"SWAPDB", "TIME", "WAIT", "WAITAOF", "READONLY", "READWRITE", "ASKING", "FAILOVER",
		"FUNCTION", "PUBSUB", "RANDOMKEY")
	add(cmdInfo{kind: kindAuth}, "AUTH")
	add(cmdInfo{kind: kindHello}, "HELLO")
	add(cmdInfo{kind: kindConfig}, "CONFIG")
	add(cmdInfo{kind: kindSentinel}, "SENTINEL")
	add(cmdInfo{kind: kindACL}, "ACL")
	add(cmdInfo{kind: kindClient}, "CLIENT")
	add(cmdInfo{kind: kindMonitor}, "MONITOR")
	add(cmdInfo{kind: kindReset}, "RESET")
	return m
}()

// The hot path looks commands up in an open-addressing table keyed by
// an FNV-1a hash the parser computes while it upper-cases the name: no
// second pass over the bytes, no map machinery.
const cmdTableSize = 1024 // a power of two, about 4 times the commands

type cmdEntry struct {
	name string
	info cmdInfo
}

var cmdTable = func() *[cmdTableSize]cmdEntry {
	var t [cmdTableSize]cmdEntry
	for name, info := range commands {
		h := uint32(fnvBasis)
		for i := range len(name) {
			h = fnvStep(h, name[i])
		}
		i := h & (cmdTableSize - 1)
		for t[i].name != "" {
			i = (i + 1) & (cmdTableSize - 1)
		}
		t[i] = cmdEntry{name, info}
	}
	return &t
}()

const fnvBasis = 2166136261

func fnvStep(h uint32, c byte) uint32 { return (h ^ uint32(c)) * 16777619 }

// lookupHash returns the info of the upper-cased command name whose
// FNV-1a hash is h.
func lookupHash(h uint32, upper []byte) (cmdInfo, bool) {
	for i := h & (cmdTableSize - 1); ; i = (i + 1) & (cmdTableSize - 1) {
		e := &cmdTable[i]
		if e.name == "" {
			return cmdInfo{}, false
		}
		if e.name == string(upper) {
			return e.info, true
		}
	}
}

// lookup returns the command's info from its upper-cased name.
func lookup(upper []byte) (cmdInfo, bool) {
	h := uint32(fnvBasis)
	for _, c := range upper {
		h = fnvStep(h, c)
	}
	return lookupHash(h, upper)
}

// serverErrors are the error prefixes that report the server's state,
// not a fault in the request: the same command may succeed later or on
// another node. Every other error prefix (ERR, WRONGTYPE, NOAUTH,
// WRONGPASS, NOPERM, NOSCRIPT, EXECABORT, BUSYKEY, BUSYGROUP, NOGROUP,
// CROSSSLOT, MOVED, ASK, NOPROTO, UNBLOCKED, ...) blames the request.
var serverErrors = map[string]bool{
	"LOADING":     true, // the dataset is being loaded
	"BUSY":        true, // a script or function is running
	"MASTERDOWN":  true, // replica cut off from its master
	"MISCONF":     true, // RDB snapshots failing, writes refused
	"OOM":         true, // maxmemory reached
	"READONLY":    true, // a write reached a read-only replica
	"NOREPLICAS":  true, // min-replicas-to-write not met
	"CLUSTERDOWN": true, // the cluster cannot serve the slot
	"TRYAGAIN":    true, // slot migration in progress
	"UNKILLABLE":  true, // a script cannot be killed
	"NOTREADY":    true, // module not ready
}
