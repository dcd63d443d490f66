package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Options say how to reach Redis. The zero value plus a URL is a local single node.
type Options struct {
	// URL is REDIS_URL: redis://[user:password@]host:port[/db], or rediss:// for TLS. In
	// cluster mode it names the configuration endpoint (ElastiCache's clustercfg address) and
	// the database must be 0.
	URL string
	// Cluster (REDIS_CLUSTER=true) speaks the Redis Cluster protocol: go-redis discovers the
	// shards from the endpoint and routes each key to its slot's master.
	Cluster bool
	// AuthToken (REDIS_AUTH_TOKEN) is the AUTH password; it wins over a password in the URL.
	AuthToken string
	// CAFile (REDIS_TLS_CA_FILE) is a PEM bundle the server's certificate must chain to instead
	// of the system roots; only with rediss://.
	CAFile string
	// Prefix (REDIS_PREFIX, default "cdx") starts every key, so environments can share a server.
	Prefix string
}

// DefaultPrefix is the key prefix when REDIS_PREFIX is unset.
const DefaultPrefix = "cdx"

// TLS reports whether the connection is encrypted (a rediss:// URL).
func (o Options) TLS() bool { return strings.HasPrefix(o.URL, "rediss://") }

// OptionsFromEnv reads REDIS_URL, REDIS_CLUSTER, REDIS_AUTH_TOKEN, REDIS_TLS_CA_FILE and
// REDIS_PREFIX through getenv (os.Getenv in main). An empty REDIS_URL is returned as is: the
// binary decides whether that is an error or the embedded Redis.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{
		URL:       getenv("REDIS_URL"),
		AuthToken: getenv("REDIS_AUTH_TOKEN"),
		CAFile:    getenv("REDIS_TLS_CA_FILE"),
		Prefix:    getenv("REDIS_PREFIX"),
	}
	if v := getenv("REDIS_CLUSTER"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("REDIS_CLUSTER %q: want true or false", v)
		}
		o.Cluster = b
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return o, o.Validate()
}

// Validate checks the options without connecting; its errors name the variables.
func (o Options) Validate() error {
	var errs []error
	if err := validPrefix(o.Prefix); err != nil {
		errs = append(errs, err)
	}
	if o.URL == "" {
		if o.Cluster || o.AuthToken != "" || o.CAFile != "" {
			errs = append(errs, errors.New("REDIS_URL is required with REDIS_CLUSTER, REDIS_AUTH_TOKEN or REDIS_TLS_CA_FILE"))
		}
		return errors.Join(errs...)
	}
	if _, err := o.universal(); err != nil {
		errs = append(errs, err)
	}
	if o.CAFile != "" && !o.TLS() {
		errs = append(errs, errors.New("REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL"))
	}
	return errors.Join(errs...)
}

// validPrefix refuses what would break the keys' hash tags: a brace in the prefix would
// become the tag, and whitespace or an empty prefix is a mistake.
func validPrefix(p string) error {
	if p == "" || strings.ContainsAny(p, "{} \t\r\n") {
		return fmt.Errorf("REDIS_PREFIX %q: want a non-empty prefix without braces or spaces", p)
	}
	return nil
}

// universal turns the options into go-redis's, without reading the CA file.
func (o Options) universal() (*goredis.UniversalOptions, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, fmt.Errorf("REDIS_URL: want redis://host:port[/db] or rediss://host:port[/db]")
	}
	var uo *goredis.UniversalOptions
	if o.Cluster {
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, fmt.Errorf("REDIS_URL: database %s with REDIS_CLUSTER=true: a cluster has only database 0", db)
		}
		u.Path = ""
		co, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %v", redactURLError(err, o.URL))
		}
		uo = &goredis.UniversalOptions{
			Addrs: co.Addrs, Username: co.Username, Password: co.Password, TLSConfig: co.TLSConfig,
			IsClusterMode: true,
		}
		// With TLS every node is verified against the configuration endpoint's name (go-redis's
		// choice): ElastiCache's certificate is a wildcard for the cluster's domain, which
		// covers that name and every node's, whether CLUSTER SLOTS announces nodes by name or
		// by address.
	} else {
		so, err := goredis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %v", redactURLError(err, o.URL))
		}
		uo = &goredis.UniversalOptions{
			Addrs: []string{so.Addr}, DB: so.DB, Username: so.Username, Password: so.Password,
			TLSConfig: so.TLSConfig,
		}
	}
	if o.AuthToken != "" {
		uo.Password = o.AuthToken
	}
	if uo.TLSConfig != nil {
		uo.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return uo, nil
}

// redactURLError keeps a password in the URL out of an error message.
func redactURLError(err error, raw string) string {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// Open connects with o and pings the server (every shard's master in cluster mode).
func Open(ctx context.Context, o Options) (*Client, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.URL == "" {
		return nil, errors.New("REDIS_URL is required")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	uo, err := o.universal()
	if err != nil {
		return nil, err
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("REDIS_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("REDIS_TLS_CA_FILE %s: no PEM certificate in it", o.CAFile)
		}
		uo.TLSConfig.RootCAs = pool
	}
	rdb := goredis.NewUniversalClient(uo)
	if err := ping(ctx, rdb); err != nil {
		rdb.Close()
		return nil, err
	}
	return &Client{rdb: rdb, prefix: o.Prefix}, nil
}

// ping checks the server answers; a cluster must answer on every shard's master.
func ping(ctx context.Context, rdb goredis.UniversalClient) error {
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		}); err != nil {
			return fmt.Errorf("ping redis cluster: %w", err)
		}
		return nil
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
