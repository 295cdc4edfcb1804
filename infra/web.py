"""The front ends in the cloud: `web/<app>/dist` in a private S3 bucket behind CloudFront, on the API's origin.

One distribution answers the shop's domain: `/shop/*` and `/console/*` from the bucket (through an origin access
control; the bucket is never public), everything else from the API's custom domain (infra/domain.py), uncached, with
every viewer header but Host. So pages call the API with relative URLs, as on the local stack, and no route needs
CORS. A CloudFront Function gives a client-side route (a path under an app that names no file) the app's index.html,
as infra/local/web.py does locally; a distribution-wide error page would also have turned the API's JSON 404s into
HTML.

Through CloudFront, API Gateway's `sourceIp` is an edge server's. The distribution forwards the viewer's address
(`CloudFront-Viewer-Address`) and proves where the request came from with an origin header holding the
environment's `edge_secret` (SSM); chalicelib/core/edge.py believes the address only with that proof.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from infra.local.web import APPS, file_headers
from infra.stages import APP_NAME

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
EDGE_HEADER = "X-Mall-Edge"
# AWS managed policies (ids are the same in every account)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # includes CloudFront-Viewer-Address
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]

CLIENT_ROUTES_FUNCTION = """function handler(event) {
  var request = event.request;
  var match = request.uri.match(/^\\/(shop|console)(\\/.*)?$/);
  if (!match) return request;
  if (!match[2]) {
    return {statusCode: 308, statusDescription: 'Permanent Redirect',
            headers: {location: {value: '/' + match[1] + '/'}}};
  }
  var name = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (match[2].indexOf('/assets/') !== 0 && name.indexOf('.') === -1) {
    request.uri = '/' + match[1] + '/index.html';
  }
  return request;
}
"""


def stack_name(env: str) -> str:
    return f"{APP_NAME}-{env}-web"


def render_web(api_domain: str, aliases: tuple[str, ...] = (), certificate_arn: str | None = None) -> dict[str, Any]:
    if bool(aliases) != bool(certificate_arn):
        raise ValueError("a domain of the shop's own (--alias) needs its certificate (--certificate-arn, us-east-1)")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{APP_NAME}: the storefront and the console on S3 + CloudFront, the API behind the same "
                       "origin (python -m infra web)",
        "Parameters": {"EdgeSecret": {"Type": "String", "NoEcho": True, "MinLength": 32,
                                      "Description": "the edge_secret SSM parameter's value"}},
        "Resources": {
            "WebBucket": bucket_resource(),
            "WebBucketPolicy": bucket_policy_resource(),
            "WebOriginAccess": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
                "OriginAccessControlConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-bucket"}, "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always", "SigningProtocol": "sigv4"}}},
            "ClientRoutes": {"Type": "AWS::CloudFront::Function", "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-client-routes"}, "AutoPublish": True,
                "FunctionCode": CLIENT_ROUTES_FUNCTION,
                "FunctionConfig": {"Comment": "client-side routes get their app's index.html",
                                   "Runtime": "cloudfront-js-2.0"}}},
            "Distribution": distribution_resource(api_domain, aliases, certificate_arn),
        },
        "Outputs": {
            "DistributionDomainName": {"Value": {"Fn::GetAtt": ["Distribution", "DomainName"]},
                                       "Description": "point the shop's domain (CNAME or alias) here"},
            "DistributionId": {"Value": {"Ref": "Distribution"}},
            "BucketName": {"Value": {"Ref": "WebBucket"}},
        },
    }


def bucket_resource() -> dict[str, Any]:
    return {"Type": "AWS::S3::Bucket", "Properties": {
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        # a deploy uploads new content-named assets beside the old: pages already open keep theirs for a while
        "LifecycleConfiguration": {"Rules": [{"Id": "old-versions", "Status": "Enabled",
                                              "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]},
        "VersioningConfiguration": {"Status": "Enabled"}}}


def bucket_policy_resource() -> dict[str, Any]:
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "WebBucket"}, "PolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OnlyThisDistributionReads", "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${WebBucket.Arn}/*"},
            "Condition": {"StringEquals": {"AWS:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}}}}]}}}


def app_behaviours() -> list[dict[str, Any]]:
    behaviour = {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
                 "AllowedMethods": ["GET", "HEAD"], "CachedMethods": ["GET", "HEAD"], "Compress": True,
                 "CachePolicyId": CACHING_OPTIMIZED, "ResponseHeadersPolicyId": SECURITY_HEADERS,
                 "FunctionAssociations": [{"EventType": "viewer-request",
                                           "FunctionARN": {"Fn::GetAtt": ["ClientRoutes", "FunctionARN"]}}]}
    return [{"PathPattern": pattern, **behaviour} for app in APPS for pattern in (f"/{app}", f"/{app}/*")]


def distribution_resource(api_domain: str, aliases: tuple[str, ...], certificate_arn: str | None) -> dict[str, Any]:
    certificate = ({"AcmCertificateArn": certificate_arn, "SslSupportMethod": "sni-only",
                    "MinimumProtocolVersion": "TLSv1.2_2021"} if certificate_arn
                   else {"CloudFrontDefaultCertificate": True})
    config: dict[str, Any] = {
        "Enabled": True, "HttpVersion": "http2and3", "IPV6Enabled": True, "Comment": f"{APP_NAME} shop",
        "Origins": [
            {"Id": "api", "DomainName": api_domain,
             "CustomOriginConfig": {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]},
             "OriginCustomHeaders": [{"HeaderName": EDGE_HEADER, "HeaderValue": {"Ref": "EdgeSecret"}}]},
            {"Id": "web", "DomainName": {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]},
             "S3OriginConfig": {"OriginAccessIdentity": ""},
             "OriginAccessControlId": {"Fn::GetAtt": ["WebOriginAccess", "Id"]}},
        ],
        "DefaultCacheBehavior": {
            "TargetOriginId": "api", "ViewerProtocolPolicy": "https-only", "AllowedMethods": ALL_METHODS,
            "CachedMethods": ["GET", "HEAD"], "Compress": True, "CachePolicyId": CACHING_DISABLED,
            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST},
        "CacheBehaviors": app_behaviours(),
        "ViewerCertificate": certificate,
    }
    if aliases:
        config["Aliases"] = list(aliases)
    return {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": config}}


def upload_plan(root: Path = WEB_ROOT) -> list[tuple[Path, str, dict[str, str]]]:
    """(file, key, put_object arguments) for every built file; index.html and other fixed names last."""
    plan = []
    for app in APPS:
        dist = root / app / "dist"
        if not (dist / "index.html").is_file():
            raise FileNotFoundError(f"{dist} is not built: run `make web` first")
        for path in sorted(p for p in dist.rglob("*") if p.is_file()):
            headers = file_headers(path, dist)  # what the local stack answers with
            plan.append((path, f"{app}/{path.relative_to(dist).as_posix()}", {
                "ContentType": headers["Content-Type"], "CacheControl": headers["Cache-Control"]}))
    # assets first: a page that starts loading mid-upload never names a file not yet there
    return sorted(plan, key=lambda item: not item[1].split("/")[1] == "assets")


def upload(s3, bucket: str, root: Path = WEB_ROOT, say=print) -> int:
    plan = upload_plan(root)
    for path, key, arguments in plan:
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **arguments)
    say(f"  uploaded {len(plan)} files to s3://{bucket}/")
    return len(plan)


def edge_secret(ssm, env: str) -> str:
    """The environment's edge_secret, created on the first deploy (the API functions read the same parameter)."""
    name = f"/{APP_NAME}/{env}/edge_secret"
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        value = secrets.token_urlsafe(48)
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
        return value


def deploy_web(env: str, api_domain: str, aliases: tuple[str, ...] = (), certificate_arn: str | None = None, *,
               region: str | None = None, say=print) -> None:
    from infra.cloud import Waits, apply_stack, session_for

    session = session_for(region)
    cfn, name = session.client("cloudformation"), stack_name(env)
    body = json.dumps(render_web(api_domain, aliases, certificate_arn), separators=(",", ":"))
    say(f"stack {name} in {session.region_name}:")
    secret = edge_secret(session.client("ssm"), env)
    apply_stack(cfn, name, body, [{"ParameterKey": "EdgeSecret", "ParameterValue": secret}],
                [{"Key": "app", "Value": APP_NAME}], say, Waits())
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    upload(session.client("s3"), outputs["BucketName"], say=say)
    session.client("cloudfront").create_invalidation(DistributionId=outputs["DistributionId"], InvalidationBatch={
        "Paths": {"Quantity": len(APPS), "Items": [f"/{app}/index.html" for app in APPS]},
        "CallerReference": secrets.token_hex(8)})
    say(f"point the shop's domain at {outputs['DistributionDomainName']}")
