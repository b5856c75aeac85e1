"""Makes a bucket on an S3 endpoint and uploads a local lake folder into it.

    python upload_lake.py http://127.0.0.1:PORT BUCKET PREFIX FOLDER
"""

import pathlib
import sys

import boto3

endpoint, bucket, prefix, folder = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
if bucket not in existing:
    s3.create_bucket(Bucket=bucket)
root = pathlib.Path(folder)
for path in sorted(root.rglob("*")):
    if path.is_file():
        key = f"{prefix}/{path.relative_to(root).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        print(key)
