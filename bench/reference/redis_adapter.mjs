// oidc-provider storage on Redis for the reference server (REFERENCE_STORE=redis), written to
// the same design as the Redis adapter oidc-provider documents as its example (ioredis; one
// MULTI per write; one-time artefacts kept as a hash so that consume() can flag them; a list
// per grant naming its tokens for revokeByGrantId; uid and userCode indexes; the grant
// list's TTL read before it is extended). The benchmark wants the documented design's cost,
// so its round trips are kept as they are rather than optimised.
//
//   REFERENCE_REDIS_URL     redis://127.0.0.1:6379/15
//   REFERENCE_REDIS_PREFIX  a key prefix of the run's own (the Redis is shared; the bench
//                           deletes the prefix's keys afterwards and never flushes a database)
import Redis from 'ioredis';

const redis = new Redis(process.env.REFERENCE_REDIS_URL || 'redis://127.0.0.1:6379/15', {
  keyPrefix: process.env.REFERENCE_REDIS_PREFIX || 'oidc-reference:',
});

// Artefacts that are redeemed once: stored as {payload, consumed?} hashes.
const ONE_TIME = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest']);
// Artefacts that revoking their grant must delete.
const OF_A_GRANT = new Set([...ONE_TIME, 'AccessToken']);

const grantList = (grantId) => `grant:${grantId}`;
const uidIndex = (uid) => `uid:${uid}`;
const userCodeIndex = (userCode) => `userCode:${userCode}`;

export default class RedisAdapter {
  constructor(model) {
    this.model = model;
    this.oneTime = ONE_TIME.has(model);
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const json = JSON.stringify(payload);
    const tx = redis.multi();
    if (this.oneTime) tx.hset(key, 'payload', json);
    else tx.set(key, json);
    if (expiresIn) tx.expire(key, expiresIn);

    if (payload.grantId && OF_A_GRANT.has(this.model)) {
      const list = grantList(payload.grantId);
      // The list's keys carry no prefix: ioredis adds it again when revokeByGrantId deletes them.
      tx.rpush(list, key);
      if (expiresIn > await redis.ttl(list)) tx.expire(list, expiresIn);
    }
    for (const index of [payload.userCode && userCodeIndex(payload.userCode),
      payload.uid && uidIndex(payload.uid)]) {
      if (index) {
        tx.set(index, id);
        tx.expire(index, expiresIn);
      }
    }
    await tx.exec();
  }

  async find(id) {
    if (this.oneTime) {
      const { payload, ...flags } = await redis.hgetall(this.key(id));
      return payload === undefined ? undefined : { ...flags, ...JSON.parse(payload) };
    }
    const json = await redis.get(this.key(id));
    return json === null ? undefined : JSON.parse(json);
  }

  async findByIndex(index) {
    const id = await redis.get(index);
    return id === null ? undefined : this.find(id);
  }

  findByUid(uid) {
    return this.findByIndex(uidIndex(uid));
  }

  findByUserCode(userCode) {
    return this.findByIndex(userCodeIndex(userCode));
  }

  async consume(id) {
    await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
  }

  async destroy(id) {
    await redis.del(this.key(id));
  }

  // eslint-disable-next-line class-methods-use-this
  async revokeByGrantId(grantId) {
    const list = grantList(grantId);
    const keys = await redis.lrange(list, 0, -1);
    const tx = redis.multi();
    for (const key of keys) tx.del(key);
    tx.del(list);
    await tx.exec();
  }
}
