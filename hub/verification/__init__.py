"""Register-backed verification of physicians and the OIDC4IDA ``verified_claims`` built
from it. Modules: vocabulary, base (Verifier protocol), names, one module per register
(nl_big, uk_gmc, us_nppes, dk_sst), importing/mirror (register mirrors), claims/release
(verified_claims out and in), records/recheck (storage and freshness), registry."""
