package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Mechanism is a SASL mechanism, as KAFKA_SASL_MECHANISM names it.
type Mechanism string

// The mechanisms the adapter speaks.
const (
	// MechanismNone: no authentication (local use).
	MechanismNone Mechanism = "none"
	// MechanismPlain: SASL/PLAIN, the password sent as is (so only over TLS).
	MechanismPlain Mechanism = "PLAIN"
	// MechanismSCRAMSHA512: SASL/SCRAM-SHA-512.
	MechanismSCRAMSHA512 Mechanism = "SCRAM-SHA-512"
	// MechanismAWSMSKIAM: Amazon MSK IAM access control, SASL/OAUTHBEARER with tokens signed
	// with the credentials of the default AWS chain (IRSA in the cluster). Only over TLS.
	MechanismAWSMSKIAM Mechanism = "AWS_MSK_IAM"
)

// The environment variables SecurityFromEnv reads.
const (
	EnvTLS          = "KAFKA_TLS"
	EnvTLSCAFile    = "KAFKA_TLS_CA_FILE"
	EnvSASL         = "KAFKA_SASL_MECHANISM"
	EnvSASLUsername = "KAFKA_SASL_USERNAME"
	EnvSASLPassword = "KAFKA_SASL_PASSWORD"
	EnvAWSRegion    = "AWS_REGION"
	EnvBrokers      = "KAFKA_BROKERS"
)

// Security is how a client protects and authenticates its connections to the brokers. The
// zero value is plaintext without authentication, the local default.
type Security struct {
	// TLS encrypts the connections and verifies the brokers' certificates.
	TLS bool
	// CAFile is a PEM file of the certificate authorities to trust; empty trusts the
	// system roots. Only with TLS.
	CAFile string
	// Mechanism is the SASL mechanism; empty is MechanismNone.
	Mechanism Mechanism
	// Username and Password are the PLAIN or SCRAM credentials.
	Username string
	Password string
	// Region is the AWS region of the MSK cluster, for AWS_MSK_IAM.
	Region string
	// Credentials, for AWS_MSK_IAM, replaces the default AWS credential chain (nil uses it).
	Credentials aws.CredentialsProvider
}

// Cluster is where the brokers are and how to talk to them.
type Cluster struct {
	Brokers  []string
	Security Security
}

// SecurityFromEnv reads KAFKA_TLS (true|false, default false), KAFKA_TLS_CA_FILE,
// KAFKA_SASL_MECHANISM (none|PLAIN|SCRAM-SHA-512|AWS_MSK_IAM, default none),
// KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and AWS_REGION (AWS_MSK_IAM), and rejects
// inconsistent combinations with an error naming the variable.
func SecurityFromEnv(getenv func(string) string) (Security, error) {
	var s Security
	if v := strings.TrimSpace(getenv(EnvTLS)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Security{}, fmt.Errorf("%s=%q: want true or false", EnvTLS, v)
		}
		s.TLS = b
	}
	s.CAFile = strings.TrimSpace(getenv(EnvTLSCAFile))
	switch m := Mechanism(strings.TrimSpace(getenv(EnvSASL))); m {
	case "", MechanismNone:
		s.Mechanism = MechanismNone
	case MechanismPlain, MechanismSCRAMSHA512, MechanismAWSMSKIAM:
		s.Mechanism = m
	default:
		return Security{}, fmt.Errorf("%s=%q: want one of none, PLAIN, SCRAM-SHA-512, AWS_MSK_IAM", EnvSASL, string(m))
	}
	s.Username = getenv(EnvSASLUsername)
	s.Password = getenv(EnvSASLPassword)
	if s.Mechanism == MechanismAWSMSKIAM {
		s.Region = strings.TrimSpace(getenv(EnvAWSRegion))
	}
	if err := s.Validate(); err != nil {
		return Security{}, err
	}
	return s, nil
}

// ClusterFromEnv reads KAFKA_BROKERS (comma separated; may be empty, the caller decides
// what that means) and the security settings (SecurityFromEnv).
func ClusterFromEnv(getenv func(string) string) (Cluster, error) {
	sec, err := SecurityFromEnv(getenv)
	if err != nil {
		return Cluster{}, err
	}
	var brokers []string
	for _, b := range strings.Split(getenv(EnvBrokers), ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			return Cluster{}, fmt.Errorf("%s: %q is not host:port", EnvBrokers, b)
		}
		brokers = append(brokers, b)
	}
	return Cluster{Brokers: brokers, Security: sec}, nil
}

// String describes s without its password, so that logging a configuration leaks nothing.
func (s Security) String() string {
	out := fmt.Sprintf("tls=%t", s.TLS)
	if s.CAFile != "" {
		out += " ca=" + s.CAFile
	}
	out += " sasl=" + string(s.mechanism())
	if s.Username != "" {
		out += " user=" + s.Username
	}
	if s.Password != "" {
		out += " password=[redacted]"
	}
	if s.Region != "" {
		out += " region=" + s.Region
	}
	return out
}

// LogValue logs s as String does.
func (s Security) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Validate reports settings that contradict each other, naming the variable to fix.
func (s Security) Validate() error {
	if s.CAFile != "" {
		if !s.TLS {
			return fmt.Errorf("%s is set but %s is not true", EnvTLSCAFile, EnvTLS)
		}
		if _, err := s.rootCAs(); err != nil {
			return err
		}
	}
	switch s.mechanism() {
	case MechanismNone:
		if s.Username != "" || s.Password != "" {
			return fmt.Errorf("%s/%s are set but %s is none", EnvSASLUsername, EnvSASLPassword, EnvSASL)
		}
	case MechanismPlain, MechanismSCRAMSHA512:
		if s.Username == "" {
			return fmt.Errorf("%s=%s needs %s", EnvSASL, s.Mechanism, EnvSASLUsername)
		}
		if s.Password == "" {
			return fmt.Errorf("%s=%s needs %s", EnvSASL, s.Mechanism, EnvSASLPassword)
		}
		if s.Mechanism == MechanismPlain && !s.TLS {
			return fmt.Errorf("%s=PLAIN sends the password in the clear: set %s=true", EnvSASL, EnvTLS)
		}
	case MechanismAWSMSKIAM:
		if !s.TLS {
			return fmt.Errorf("%s=AWS_MSK_IAM needs %s=true (MSK serves IAM only over TLS)", EnvSASL, EnvTLS)
		}
		if s.Region == "" {
			return fmt.Errorf("%s=AWS_MSK_IAM needs %s", EnvSASL, EnvAWSRegion)
		}
		if s.Username != "" || s.Password != "" {
			return fmt.Errorf("%s/%s are set but %s=AWS_MSK_IAM takes its credentials from the AWS chain", EnvSASLUsername, EnvSASLPassword, EnvSASL)
		}
	default:
		return fmt.Errorf("%s=%q: want one of none, PLAIN, SCRAM-SHA-512, AWS_MSK_IAM", EnvSASL, string(s.Mechanism))
	}
	return nil
}

func (s Security) mechanism() Mechanism {
	if s.Mechanism == "" {
		return MechanismNone
	}
	return s.Mechanism
}

// Env returns the environment that SecurityFromEnv and ClusterFromEnv read back as c (for
// starting processes against a broker, as the deployment-shaped tests do).
func (c Cluster) Env() []string {
	s := c.Security
	env := []string{
		EnvBrokers + "=" + strings.Join(c.Brokers, ","),
		EnvTLS + "=" + strconv.FormatBool(s.TLS),
		EnvSASL + "=" + string(s.mechanism()),
	}
	if s.CAFile != "" {
		env = append(env, EnvTLSCAFile+"="+s.CAFile)
	}
	if s.Username != "" {
		env = append(env, EnvSASLUsername+"="+s.Username, EnvSASLPassword+"="+s.Password)
	}
	if s.Region != "" {
		env = append(env, EnvAWSRegion+"="+s.Region)
	}
	return env
}

func (s Security) rootCAs() (*x509.CertPool, error) {
	if s.CAFile == "" {
		return nil, nil // the system roots
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvTLSCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s=%s: no PEM certificate in the file", EnvTLSCAFile, s.CAFile)
	}
	return pool, nil
}

// Config returns the sarama configuration the platform uses for clientID on this cluster.
func (c Cluster) Config(clientID string) (*sarama.Config, error) {
	cfg := baseConfig(clientID)
	if err := c.Security.apply(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (s Security) apply(cfg *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TLS {
		roots, err := s.rootCAs()
		if err != nil {
			return err
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	switch s.mechanism() {
	case MechanismNone:
		return nil
	case MechanismPlain:
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case MechanismSCRAMSHA512:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.SCRAMClientGeneratorFunc = newSCRAMSHA512Client
	case MechanismAWSMSKIAM:
		tp, err := newMSKTokenProvider(s.Region, s.Credentials)
		if err != nil {
			return err
		}
		cfg.Net.SASL.Mechanism = sarama.SASLTypeOAuth
		cfg.Net.SASL.TokenProvider = tp
	}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.Version = sarama.SASLHandshakeV1
	cfg.Net.SASL.User = s.Username
	cfg.Net.SASL.Password = s.Password
	return nil
}

// connectError names the setting to look at when connecting to c failed: an untrusted
// certificate names KAFKA_TLS_CA_FILE; a refused authentication, or brokers that take a TLS
// connection but fail the client once it authenticates, name the SASL settings; anything
// else names KAFKA_BROKERS.
func (c Cluster) connectError(what string, err error) error {
	s := c.Security
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknownCA) || errors.As(err, &verify) || errors.As(err, &hostname) || strings.Contains(err.Error(), "x509:"):
		if s.CAFile == "" {
			return fmt.Errorf("%s: the brokers' certificate is not trusted by the system roots (set %s): %w", what, EnvTLSCAFile, err)
		}
		return fmt.Errorf("%s: the brokers' certificate is not signed by %s=%s: %w", what, EnvTLSCAFile, s.CAFile, err)
	case s.mechanism() == MechanismNone:
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed) || c.connectsWithoutSASL():
		if s.mechanism() == MechanismAWSMSKIAM {
			return fmt.Errorf("%s: the brokers refused the AWS_MSK_IAM authentication (check the AWS credentials, the role's kafka-cluster:Connect permission and %s): %w", what, EnvAWSRegion, err)
		}
		return fmt.Errorf("%s: the brokers refused the %s authentication of %s=%q (check %s and %s): %w",
			what, s.mechanism(), EnvSASLUsername, s.Username, EnvSASLUsername, EnvSASLPassword, err)
	}
	return fmt.Errorf("%s (%s=%s): %w", what, EnvBrokers, strings.Join(c.Brokers, ","), err)
}

// connectsWithoutSASL reports whether a connection (TLS included) to one of c's brokers
// opens: when it does and the client still failed, authentication is what failed.
func (c Cluster) connectsWithoutSASL() bool {
	cfg := baseConfig("connect-probe")
	if err := (Security{TLS: c.Security.TLS, CAFile: c.Security.CAFile}).apply(cfg); err != nil {
		return false
	}
	for _, addr := range c.Brokers {
		b := sarama.NewBroker(addr)
		if err := b.Open(cfg); err != nil {
			continue
		}
		ok, _ := b.Connected()
		_ = b.Close()
		if ok {
			return true
		}
	}
	return false
}
