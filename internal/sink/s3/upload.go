package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// abortTimeout bounds the clean-up of a failed multipart upload, which
// runs even when the write's ctx has ended.
const abortTimeout = 10 * time.Second

// put creates the object key with body unless it exists. It uses one
// PutObject with a bytes.Reader body (the SDK then sends a plain signed
// payload, which every S3-compatible server takes), or a multipart upload
// above the threshold.
func (s *Sink) put(ctx context.Context, key string, body []byte) error {
	if len(body) > s.threshold {
		return s.multipart(ctx, key, body)
	}
	in := &s3api.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(s.codec.ContentType()),
		// Buckets with Object Lock (common for compliance archives) refuse
		// writes without an integrity header; the SDK adds none on its own
		// with checksums "when required", so we send Content-MD5.
		ContentMD5: aws.String(contentMD5(body)),
	}
	if *s.cfg.ConditionalWrites {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.client.PutObject(ctx, in)
	return s.classify(ctx, "put "+s.keyString(key), err)
}

// contentMD5 is the Content-MD5 header value of body.
func contentMD5(body []byte) string {
	sum := md5.Sum(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// multipart uploads body in parts and completes with If-None-Match: *,
// which AWS S3 and versitygw (since v1.0.14, PR #1727) honour on
// CompleteMultipartUpload. A HEAD first skips the upload when a retry
// finds the object already there. Any failure aborts the upload so no
// parts are left behind.
func (s *Sink) multipart(ctx context.Context, key string, body []byte) error {
	what := "multipart upload " + s.keyString(key)
	if !s.skipHead {
		_, err := s.client.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
		if err == nil {
			return nil // written by an earlier attempt
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if info := awsconf.Inspect(err); info.Status != http.StatusNotFound {
			// HEAD needs s3:GetObject, which a write-only policy may
			// lack: go on and let the conditional complete decide.
			s.log.Debug("head before multipart upload", "key", key, "err", err)
		}
	}
	created, err := s.client.CreateMultipartUpload(ctx, &s3api.CreateMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), ContentType: aws.String(s.codec.ContentType()),
	})
	if err != nil {
		return s.classify(ctx, what, err)
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, err := s.client.AbortMultipartUpload(actx, &s3api.AbortMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
		}); err != nil {
			s.log.Warn("abort multipart upload", "key", key, "err", err)
		}
	}
	var parts []types.CompletedPart
	for n, off := int32(1), 0; off < len(body); n, off = n+1, off+s.partSize {
		part := body[off:min(off+s.partSize, len(body))]
		out, err := s.client.UploadPart(ctx, &s3api.UploadPartInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part))),
			ContentMD5: aws.String(contentMD5(part)),
		})
		if err != nil {
			abort()
			return s.classify(ctx, fmt.Sprintf("%s part %d", what, n), err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	in := &s3api.CompleteMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if *s.cfg.ConditionalWrites {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, in); err != nil {
		abort()
		return s.classify(ctx, what, err)
	}
	return nil
}

// duplicate reports whether err says the object already exists: 412 to
// If-None-Match, or the 304 older MinIO answered instead.
func duplicate(err error) (bool, awsconf.APIError) {
	info := awsconf.Inspect(err)
	return info.Status == http.StatusPreconditionFailed || info.Status == http.StatusNotModified ||
		info.Code == "PreconditionFailed", info
}

// classify turns an SDK error into the runner's classes
// (DESTINATIONS.md §1.3, §1.5); nil for success and for "already there".
func (s *Sink) classify(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	dup, info := duplicate(err)
	if dup {
		return nil
	}
	werr := fmt.Errorf("%s: %w", what, s.plain(err))
	switch {
	case info.Code == "ExpiredToken" || info.Code == "RequestTimeout" || info.Code == "ConditionalRequestConflict" ||
		info.Status == http.StatusConflict:
		return werr // retryable: fresh credentials, a slow upload, a race
	case awsconf.IsThrottling(info.Code) || info.Status == http.StatusTooManyRequests || info.Status == http.StatusServiceUnavailable:
		return sink.Throttled(werr, sink.ParseRetryAfter(info.Header.Get("Retry-After"), time.Now()))
	case info.Code == "NoSuchUpload":
		return werr // the multipart upload went away: retrying starts a new one
	case configProblem(info):
		return sink.Misconfigured(werr)
	case info.Status >= 400 && info.Status < 500:
		return sink.Permanent(werr) // EntityTooLarge, malformed: splitting isolates the event
	default:
		return werr // 5xx, network
	}
}

// configProblem reports answers that need an operator: credentials,
// permissions, the bucket, its region, or a server feature we rely on.
func configProblem(info awsconf.APIError) bool {
	if awsconf.IsAuth(info.Code) {
		return true
	}
	switch info.Code {
	case "NoSuchBucket", "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException",
		"XAmzContentSHA256Mismatch", "NotImplemented", "InvalidRequest", "InvalidBucketName", "AccountProblem",
		"AllAccessDisabled", "InvalidObjectState", "MissingContentMD5":
		return true
	}
	switch info.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMovedPermanently,
		http.StatusTemporaryRedirect, http.StatusNotImplemented, http.StatusGone:
		return true
	}
	return false
}

// plain says what an S3 error means in words an operator acts on; the
// API shows it when creating or activating a stream fails.
func (s *Sink) plain(err error) error {
	info := awsconf.Inspect(err)
	var ae smithy.APIError
	msg := ""
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	region := info.Header.Get("X-Amz-Bucket-Region")
	switch {
	case info.Code == "NoSuchBucket" || (info.Status == http.StatusNotFound && info.Code == ""):
		return &plainError{fmt.Sprintf("no such bucket: bucket %q does not exist in region %s%s", s.cfg.Bucket, s.cfg.Region, s.at()), err}
	case info.Code == "InvalidAccessKeyId" || info.Code == "XAdminUserNotFound": // the latter: versitygw
		return &plainError{"access denied: the access key id is not known to the server (check credentials.accessKeyId)", err}
	case info.Code == "SignatureDoesNotMatch":
		return &plainError{"access denied: the secret access key does not match the access key id (check credentials.secretAccessKey)", err}
	case info.Code == "ExpiredToken":
		return &plainError{"the session token has expired", err}
	case awsconf.IsAuth(info.Code) || info.Status == http.StatusForbidden:
		return &plainError{fmt.Sprintf("access denied: the credentials may not write to bucket %q (they need s3:PutObject on %q)", s.cfg.Bucket, s.layout.Prefix+"*"), err}
	case info.Code == "PermanentRedirect" || info.Code == "AuthorizationHeaderMalformed" || info.Status == http.StatusMovedPermanently ||
		info.Code == "IllegalLocationConstraintException":
		if region != "" && region != s.cfg.Region {
			return &plainError{fmt.Sprintf("wrong region: bucket %q is in region %s, not %s (set region to %s)", s.cfg.Bucket, region, s.cfg.Region, region), err}
		}
		return &plainError{fmt.Sprintf("wrong region: bucket %q is not in region %s", s.cfg.Bucket, s.cfg.Region), err}
	case info.Code == "NotImplemented" || info.Code == "InvalidRequest" && info.Status != 0:
		return &plainError{fmt.Sprintf("the server refused the request (%s: %s); if it lacks conditional writes (If-None-Match), set conditionalWrites to false", info.Code, msg), err}
	case info.Code == "XAmzContentSHA256Mismatch":
		return &plainError{"the server rejected the request checksum (an S3-compatible server without the SDK's checksum support)", err}
	case info.Status == 0:
		var oe *smithy.OperationError
		cause := err
		if errors.As(err, &oe) {
			cause = oe.Err
		}
		return &plainError{fmt.Sprintf("cannot reach S3%s: %v", s.at(), cause), err}
	case info.Code != "":
		return &plainError{fmt.Sprintf("S3 answered %d %s: %s", info.Status, info.Code, msg), err}
	default:
		return &plainError{fmt.Sprintf("S3 answered %d %s", info.Status, http.StatusText(info.Status)), err}
	}
}

func (s *Sink) at() string {
	if s.cfg.Endpoint != "" {
		return " at " + s.cfg.Endpoint
	}
	return ""
}

// plainError is an S3 error said in plain words, still unwrapping to the
// SDK's error.
type plainError struct {
	text string
	err  error
}

func (e *plainError) Error() string { return e.text }
func (e *plainError) Unwrap() error { return e.err }

// multipartNoHead is multipart without the HEAD shortcut, for tests of
// the conditional complete.
func (s *Sink) multipartNoHead(ctx context.Context, key string, body []byte) error {
	saved := s.skipHead
	s.skipHead = true
	defer func() { s.skipHead = saved }()
	return s.multipart(ctx, key, body)
}
