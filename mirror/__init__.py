"""Mirror a Lambda's API traffic to the shadow's SQS queue without slowing or failing the Lambda.

Dropped into the primary (reference) function as it is: standard library only, boto3 (present in every
Python Lambda runtime) imported on first use. See README.md in this folder.
"""

from mirror.decorator import MirrorStats, mirror_to_sqs, stats

__all__ = ["MirrorStats", "mirror_to_sqs", "stats"]
