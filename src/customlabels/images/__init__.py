"""Images behind source-refs: header probing, local and S3 sources, checks and cache."""
