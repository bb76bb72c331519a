package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// sentinelScheme is the scheme of a REDIS_URL that names a Sentinel set.
const sentinelScheme = "redis+sentinel"

// redisConn is how to reach the Redis of a REDIS_URL: asynq's options, a
// go-redis client on the same server, and where it is, for messages.
type redisConn struct {
	opt   asynq.RedisConnOpt
	rdb   redis.UniversalClient
	where string
}

// dialRedis reads a REDIS_URL: redis://[:password@]host:port[/db] (or
// rediss:// for TLS), or
//
//	redis+sentinel://[:password@]host:port[,host:port...]/mastername[/db]
//
// for a primary found through Redis Sentinel: the sentinels' addresses,
// the name they monitor it by, and the password of the primary and its
// replicas (the sentinels' own are not asked for). After a failover both
// clients follow the new primary. Errors leave the URL out (its password).
func dialRedis(s string) (redisConn, error) {
	if err := checkURL(s); err != nil {
		return redisConn{}, err
	}
	u, _ := url.Parse(s)
	if u.Scheme != sentinelScheme {
		opt, err := asynq.ParseRedisURI(s)
		if err != nil {
			return redisConn{}, err
		}
		ropt, err := redis.ParseURL(s)
		if err != nil {
			return redisConn{}, err
		}
		return redisConn{opt: opt, rdb: redis.NewClient(ropt), where: ropt.Addr}, nil
	}
	addrs := strings.Split(u.Host, ",")
	for _, a := range addrs {
		if _, port, ok := strings.Cut(a, ":"); !ok || port == "" || strings.ContainsAny(a, "/@") {
			return redisConn{}, fmt.Errorf("sentinel address %q: want host:port", a)
		}
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if path[0] == "" || len(path) > 2 {
		return redisConn{}, errors.New("want " + sentinelScheme + "://[:password@]host:port[,host:port...]/mastername[/db]")
	}
	db := 0
	if len(path) == 2 {
		var err error
		if db, err = strconv.Atoi(path[1]); err != nil || db < 0 {
			return redisConn{}, fmt.Errorf("database %q is not a number", path[1])
		}
	}
	password, _ := u.User.Password()
	master := path[0]
	return redisConn{
		opt:   asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: addrs, Password: password, DB: db},
		rdb:   redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: addrs, Password: password, DB: db}),
		where: fmt.Sprintf("the primary %q of the sentinels %s", master, strings.Join(addrs, ",")),
	}, nil
}
