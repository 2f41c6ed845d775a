package s3

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

// TestDigestsWithObjectLock: data and digests go to a bucket with S3
// Object Lock (compliance retention by default), which refuses to let
// them be overwritten or deleted, and the trail verifies.
func TestDigestsWithObjectLock(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := t.Context()
	client := srv.Client()
	if _, err := client.CreateBucket(ctx, &s3api.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObjectLockConfiguration(ctx, &s3api.PutObjectLockConfigurationInput{
		Bucket: aws.String(bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(1)}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	kr := testKeyring(t, "k1")
	s := newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix = "locked/" }), sink.Deps{Stream: "0ls1", Signer: kr})
	write(t, s, records(1, 6))
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := verifyPrefix(t, srv, "locked/", kr)
	if !r.OK() || r.Objects != 2 || r.Digests != 2 {
		t.Fatalf("got %s %v, want 2 objects in 2 digests verified", r.Summary(), r.Failures)
	}
	key := digestKeys(t, srv, "locked/")[1]
	_, derr := client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	_, perr := client.PutObject(ctx, &s3api.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("{}"))})
	if derr == nil || perr == nil {
		t.Errorf("delete: got %v, overwrite: got %v; want both refused by the lock", derr, perr)
	}
	if r := verifyPrefix(t, srv, "locked/", kr); !r.OK() || r.Digests != 2 {
		t.Errorf("after trying to delete and overwrite a locked digest: got %s %v, want the lock to have kept it", r.Summary(), r.Failures)
	}
}
