// Package awsconf turns the AWS settings every AWS destination shares
// (region, credentials, an endpoint override) into an aws.Config for the AWS
// SDK for Go v2.
//
// A destination embeds Config in its own settings, calls Config.Validate
// from its Validate and Load from its New. The aws.Config that Load returns
// never retries (the stream runner owns retries and backoff), computes
// request checksums only when an operation requires them (S3-compatible
// servers often reject the SDK's default CRC32 trailers), and sends through
// the HTTP client the destination passes, which must not follow redirects.
//
// Credentials come from, in order of preference: a role to assume
// (roleArn, optionally externalId), with the static keys or the default
// chain as the base identity; static keys (accessKeyId, secretAccessKey,
// optional sessionToken); or the SDK's default chain (environment, shared
// files, web identity, ECS or EC2 instance roles).
package awsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Config is the AWS part of a destination's settings.
type Config struct {
	// Region is the AWS region of the destination, e.g. "us-east-1".
	// Required, even with an endpoint override.
	Region string `json:"region"`
	// Endpoint overrides the service endpoint, e.g. a VPC endpoint or a
	// local test server ("http://127.0.0.1:4566"). Empty means AWS's own.
	Endpoint string `json:"endpoint,omitempty"`
	// Credentials say who the requests are signed as; empty means the
	// SDK's default chain.
	Credentials Credentials `json:"credentials,omitzero"`
}

// Credentials are static keys and/or a role to assume.
type Credentials struct {
	// AccessKeyID and SecretAccessKey are static keys; set both or
	// neither. SessionToken goes with temporary keys.
	AccessKeyID     string        `json:"accessKeyId,omitempty"`
	SecretAccessKey secret.String `json:"secretAccessKey,omitempty"`
	SessionToken    secret.String `json:"sessionToken,omitempty"`
	// RoleARN is a role to assume with STS, using the static keys (or the
	// default chain) as the base identity. ExternalID is passed along
	// when the role's trust policy asks for one.
	RoleARN    string `json:"roleArn,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
}

// DestinationPaths are the settings of Config that say where the
// credentials are sent (secret.Fields.Destination), relative to the
// settings object Config is embedded in. The secret paths are derived from
// the secret.String fields (secret.Paths).
func DestinationPaths() []string { return []string{"endpoint", "region"} }

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	keyIDRE   = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
)

// Validate reports every problem with c, each prefixed with its setting
// name. Destinations with their own region rules (Okta's region list)
// check Region themselves and call ValidateCredentials and
// ValidateEndpoint instead.
func (c Config) Validate() error {
	var errs sink.Problems
	switch {
	case c.Region == "":
		errs.Add(errors.New("region: required"))
	case !regionRE.MatchString(c.Region):
		errs.Addf("region %q: not an AWS region name such as us-east-1", c.Region)
	}
	errs.Add(c.ValidateEndpoint(), c.ValidateCredentials())
	return errs.Err()
}

// ValidateEndpoint checks the endpoint override, if any.
func (c Config) ValidateEndpoint() error {
	if c.Endpoint == "" {
		return nil
	}
	// Plain http is not refused here (as before): the egress policy
	// judges the target.
	if _, err := sink.ParseURL(c.Endpoint, sink.URLRules{Credentials: "credentials", Query: true, InsecureHTTP: true}); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	return nil
}

// ValidateCredentials checks the credentials settings.
func (c Config) ValidateCredentials() error {
	var errs sink.Problems
	k := c.Credentials
	switch {
	case k.AccessKeyID != "" && k.SecretAccessKey == "":
		errs.Addf("credentials.secretAccessKey: required with accessKeyId")
	case k.AccessKeyID == "" && k.SecretAccessKey != "":
		errs.Addf("credentials.accessKeyId: required with secretAccessKey")
	case k.AccessKeyID != "" && !keyIDRE.MatchString(k.AccessKeyID):
		errs.Addf("credentials.accessKeyId: want letters and digits only")
	}
	if k.SessionToken != "" && k.AccessKeyID == "" {
		errs.Addf("credentials.sessionToken: only used with accessKeyId and secretAccessKey")
	}
	if k.RoleARN != "" && !roleARNRE.MatchString(k.RoleARN) {
		errs.Addf("credentials.roleArn %q: want arn:aws:iam::<account>:role/<name>", k.RoleARN)
	}
	if k.ExternalID != "" {
		if k.RoleARN == "" {
			errs.Addf("credentials.externalId: only used with roleArn")
		} else if len(k.ExternalID) < 2 || len(k.ExternalID) > 1224 {
			errs.Addf("credentials.externalId: want 2 to 1224 characters")
		}
	}
	return errs.Err()
}

// EndpointURL returns the parsed endpoint override, nil when there is none
// (or it does not parse; Validate reports that).
func (c Config) EndpointURL() *url.URL {
	if c.Endpoint == "" {
		return nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil
	}
	return u
}

// Load builds the aws.Config for c. client sends every request, including
// STS calls for an assumed role; it should be the destination's own copy
// (nil means the SDK's default client, which follows 307 and 308
// redirects). When the environment or shared config names a CA bundle
// (AWS_CA_BUNDLE), Load replaces client.Transport, if it is an
// *http.Transport, with a clone that trusts the bundle too. Load reads the
// environment and shared config files; it makes no network call.
func Load(ctx context.Context, c Config, client *http.Client) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(c.Region),
		// The stream runner owns retries, backoff and Retry-After: an SDK
		// retry would hide throttling from it and stretch a cancelled write.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		config.WithRetryMaxAttempts(1),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if c.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(c.Endpoint))
	}
	k := c.Credentials
	if k.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			k.AccessKeyID, k.SecretAccessKey.Reveal(), k.SessionToken.Reveal())))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if client != nil {
		// The SDK applies a CA bundle only to its own client type: carry
		// the roots it built over to ours.
		if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
			useRoots(client, bc.GetTransport())
		}
		cfg.HTTPClient = plainBodyClient{client}
	}
	if k.RoleARN != "" {
		// STS is reached at AWS's own endpoint even when the destination's
		// endpoint is overridden: the override names one service only.
		stsCfg := cfg.Copy()
		stsCfg.BaseEndpoint = nil
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(stsCfg), k.RoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "auditstream"
				if k.ExternalID != "" {
					o.ExternalID = aws.String(k.ExternalID)
				}
			})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

// plainBodyClient hides the io.WriterTo of the SDK's request bodies from
// net/http. The SDK closes a request body as soon as the answer is read,
// and a closed body's WriteTo fails with io.EOF; when that close wins the
// race with the transport's final check of the body, the transport counts
// the write as failed and drops a healthy connection. Read on a closed
// body returns a plain io.EOF, which the transport takes as the end.
type plainBodyClient struct{ c *http.Client }

func (p plainBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return p.c.Do(req)
}

func useRoots(client *http.Client, from *http.Transport) {
	if from == nil || from.TLSClientConfig == nil || from.TLSClientConfig.RootCAs == nil {
		return
	}
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		if client.Transport != nil {
			return
		}
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	if tr.TLSClientConfig.RootCAs == nil {
		tr.TLSClientConfig.RootCAs = from.TLSClientConfig.RootCAs
	}
	client.Transport = tr
}

// APIError is what an AWS answer other than success tells a sink.
type APIError struct {
	// Code is the error code ("ThrottlingException"), empty for
	// transport errors.
	Code string
	// Status is the HTTP status, zero when no answer arrived.
	Status int
	// Header is the answer's header, nil when no answer arrived.
	Header http.Header
}

// Inspect reads the error code, HTTP status and response header out of an
// error returned by an SDK client.
func Inspect(err error) APIError {
	var info APIError
	var ae smithy.APIError
	if errors.As(err, &ae) {
		info.Code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		info.Status = re.Response.StatusCode
		info.Header = re.Response.Header
	}
	return info
}

// IsThrottling reports whether an AWS error code asks the caller to slow
// down.
func IsThrottling(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
		"RequestLimitExceeded", "RequestThrottled", "RequestThrottledException",
		"ProvisionedThroughputExceededException", "LimitExceededException", "SlowDown":
		return true
	}
	return false
}

// IsAuth reports whether an AWS error code says the credentials or their
// permissions are wrong: an operator must act, the events are fine. An
// expired session token is not among them: a cached role credential is
// refreshed on the next attempt.
func IsAuth(code string) bool {
	switch code {
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
		"InvalidSignatureException", "SignatureDoesNotMatch", "InvalidClientTokenId",
		"MissingAuthenticationToken", "IncompleteSignature", "NotAuthorized",
		"InvalidAccessKeyId":
		return true
	}
	return strings.HasPrefix(code, "NotAuthorizedFor")
}

// CheckOwner checks c against what its stream's owner may use
// (deps.Egress): the server's own AWS credentials, when c brings no
// accessKeyId of its own, and the endpoint override (the error wraps
// sink.ErrForbiddenTarget).
func (c Config) CheckOwner(deps sink.Deps) error {
	if c.Credentials.AccessKeyID == "" {
		if err := deps.CheckAmbientCredentials(); err != nil {
			return err
		}
	}
	if u := c.EndpointURL(); u != nil {
		return deps.CheckURL(u, "endpoint "+u.Redacted())
	}
	return nil
}

// Conn is what an AWS destination sends through: the aws.Config Load
// makes and the HTTP client under it.
type Conn struct {
	// AWS is the configuration for the service's client.
	AWS  aws.Config
	http *http.Client
	own  bool
}

// Open checks c with deps.Egress (CheckOwner) and loads the aws.Config that
// sends through deps.HTTPClient (a copy that never follows redirects; a
// client of the destination's own when nil).
func Open(ctx context.Context, c Config, deps sink.Deps) (*Conn, error) {
	if err := c.CheckOwner(deps); err != nil {
		return nil, err
	}
	conn := &Conn{}
	conn.http, conn.own = sink.HTTPClient(deps.HTTPClient)
	awsCfg, err := Load(ctx, c, conn.http)
	if err != nil {
		return nil, err
	}
	conn.AWS = awsCfg
	return conn, nil
}

// Close releases the idle connections of a client of the destination's
// own.
func (c *Conn) Close() {
	if c.own {
		c.http.CloseIdleConnections()
	}
}

// Classify marks err, a failed call named op, with the table the AWS
// destinations share; retry are codes retried whatever their status:
//
//	throttling codes, 429                                   throttled (Retry-After honoured)
//	auth codes, ResourceNotFoundException, 401, 403, 404, 3xx config
//	retry codes, 5xx                                         retryable (Retry-After honoured)
//	other 4xx (ValidationException, …)                       permanent
//	anything else (transport errors)                         retryable
//
// Retry-After dates are read against now (the wall clock).
func Classify(op string, err error, now time.Time, retry ...string) error {
	info := Inspect(err)
	if op != "" {
		err = fmt.Errorf("%s: %w", op, err)
	}
	var delay time.Duration
	if info.Header != nil {
		delay = sink.ParseRetryAfter(info.Header.Get("Retry-After"), now)
	}
	switch {
	case IsThrottling(info.Code), info.Status == http.StatusTooManyRequests:
		return sink.Throttled(err, delay)
	case IsAuth(info.Code), info.Code == "ResourceNotFoundException",
		info.Status == http.StatusUnauthorized, info.Status == http.StatusForbidden,
		info.Status == http.StatusNotFound, info.Status >= 300 && info.Status < 400:
		return sink.Misconfigured(err)
	case slices.Contains(retry, info.Code), info.Status >= 500:
		return sink.RetryAfter(err, delay)
	case info.Status >= 400:
		return sink.Permanent(err)
	default:
		return err
	}
}
