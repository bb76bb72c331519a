package main

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestDialRedis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		url     string
		want    asynq.RedisConnOpt
		where   string
		wantErr string
	}{
		{name: "Redis", url: "redis://:pw@127.0.0.1:6390/3", want: asynq.RedisClientOpt{Addr: "127.0.0.1:6390", Password: "pw", DB: 3}, where: "127.0.0.1:6390"},
		{name: "OneSentinel", url: "redis+sentinel://127.0.0.1:26379/main",
			want:  asynq.RedisFailoverClientOpt{MasterName: "main", SentinelAddrs: []string{"127.0.0.1:26379"}},
			where: `the primary "main" of the sentinels 127.0.0.1:26379`},
		{name: "ThreeSentinelsPasswordDB", url: "redis+sentinel://:s3cret@a:26379,b:26380,c:26381/main/2",
			want: asynq.RedisFailoverClientOpt{MasterName: "main", SentinelAddrs: []string{"a:26379", "b:26380", "c:26381"}, Password: "s3cret", DB: 2}},
		{name: "NoMasterName", url: "redis+sentinel://:s3cret@a:26379", wantErr: "want redis+sentinel://"},
		{name: "TooLongPath", url: "redis+sentinel://a:26379/main/2/x", wantErr: "want redis+sentinel://"},
		{name: "BadDB", url: "redis+sentinel://:s3cret@a:26379/main/two", wantErr: `database "two" is not a number`},
		{name: "NoPort", url: "redis+sentinel://a,b:26379/main", wantErr: `sentinel address "a": want host:port`},
		{name: "UnknownScheme", url: "memcached://a:1", wantErr: "unsupported uri scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := dialRedis(tc.url)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			defer conn.rdb.Close()
			require.Equal(t, tc.want, conn.opt)
			if tc.where != "" {
				require.Equal(t, tc.where, conn.where)
			}
		})
	}
}
