/**
 * File sharing (docs/protocol.md, section 23): uploads in progress, their
 * limits, and downloads. An upload is announced (a `message` or `dm` with
 * `file`) only once all of its bytes are stored under their hash, the hash
 * is checked, and its metadata is committed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ChatError } from "../../shared/errors.ts";
import { DEFAULT_FILE_TYPE } from "../../shared/file_fields.ts";
import type { FileInfo, RequestOf, ResultOf } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { Broker } from "../chat/broker.ts";
import type { Member } from "../chat/room.ts";
import type { FileRecord } from "../store/store.ts";
import type { BlobStore, BlobWriter } from "./blob_store.ts";

/** The limits of file sharing (all of them settings: server/config/settings.ts). */
export interface FileLimits {
  /** Largest file, in bytes. */
  maxUploadBytes: number;
  /** Bytes one user may upload per quota window (files still kept). */
  uploadQuotaBytes: number;
  /** The quota's window, in ms. */
  uploadQuotaWindowMs: number;
  /** Uploads in progress on one connection. */
  maxUploadsPerConnection: number;
  /** Bytes of uploads in progress on the server, all connections together (sizes announced). */
  maxUploadingBytes: number;
  /** Bytes of one user's uploads in progress, all their connections together (sizes announced). */
  maxUploadingBytesPerUser: number;
  /** An upload that receives nothing for this long is dropped, in ms. */
  uploadTimeoutMs: number;
  /** Whether guests may upload (they may always download what they can read). */
  guestUploads: boolean;
  /** Most bytes of file data in one frame (an upload chunk, a download reply). */
  chunkBytes: number;
}

/** Where an upload goes, and as what. */
export interface UploadTarget {
  name: string;
  size: number;
  mediaType?: string;
  room?: string;
  to?: string;
  sha256?: string;
  body?: string;
}

interface Upload {
  id: string;
  owner: Member;
  uploader: string;
  target: UploadTarget;
  type: string;
  writer: BlobWriter;
  received: number;
  timer: ReturnType<typeof setTimeout>;
  /** The chunks being written, in order; the end waits for them. */
  chain: Promise<void>;
  /** Set once the upload is finishing: no more chunks. */
  ending: boolean;
}

/** How long a link of {@linkcode FileService.link} works, in ms. */
export const LINK_TTL_MS = 10 * 60_000;

/** Ids of files and uploads: 16 random bytes, base64url. */
function randomId(): string {
  return randomBytes(16).toString("base64url");
}

/** Who may do what with files: the rights of section 23. */
export interface FileAccess {
  /** Whether `member` may read the history of the room keyed `roomKey`. */
  canReadRoom(member: Member, roomKey: string): boolean;
}

/**
 * The files of one server: uploads in progress by id (each owned by one
 * connection), downloads, and retention of what no message refers to.
 */
export class FileService {
  readonly limits: FileLimits;
  readonly #broker: Broker;
  readonly #blobs: BlobStore;
  readonly #uploads = new Map<string, Upload>();
  readonly #byOwner = new Map<Member, Set<Upload>>();
  #uploadingBytes = 0;
  // Finishing uploads and retention take turns: a blob retention deletes
  // is never the one an upload is committing.
  #turn: Promise<unknown> = Promise.resolve();

  // Signs the links of file_url; with --redis every instance has the same.
  readonly #linkSecret: Uint8Array;

  constructor(
    broker: Broker,
    blobs: BlobStore,
    limits: FileLimits & { linkSecret?: Uint8Array },
  ) {
    this.#broker = broker;
    this.#blobs = blobs;
    this.limits = limits;
    this.#linkSecret = limits.linkSecret ?? randomBytes(32);
  }

  /** Bytes of uploads in progress (announced sizes). */
  get uploadingBytes(): number {
    return this.#uploadingBytes;
  }

  /** Uploads in progress. */
  get uploads(): number {
    return this.#uploads.size;
  }

  #now(): number {
    return Date.now();
  }

  #uploaderKey(member: Member): string {
    return member.account ?? nameKey(member.nick);
  }

  /**
   * Starts an upload for `member`: checks rights and limits, reserves its
   * bytes. `bot`: an API key's bot, which uploads as an account does.
   */
  async begin(
    member: Member,
    target: UploadTarget,
    options: { bot?: boolean } = {},
  ): Promise<ResultOf<"upload_begin">> {
    const limits = this.limits;
    if (member.account === undefined && !options.bot && !limits.guestUploads) {
      throw new ChatError("forbidden", "Uploading files needs an account on this server");
    }
    if (target.size > limits.maxUploadBytes) {
      throw new ChatError(
        "file_too_large",
        `Cannot upload ${target.name}: ${target.size} bytes, the limit is ${limits.maxUploadBytes}`,
      );
    }
    if (target.size === 0) {
      throw new ChatError("bad_request", `Cannot upload ${target.name}: it is empty`);
    }
    if (target.room !== undefined) this.#broker.checkCanShare(member, target.room);
    if (target.to !== undefined) await this.#broker.directMessages.checkRecipient(target.to);
    const mine = this.#byOwner.get(member);
    if ((mine?.size ?? 0) >= limits.maxUploadsPerConnection) {
      throw new ChatError(
        "rate_limited",
        `Too many uploads at once: ${limits.maxUploadsPerConnection} per connection; finish one first`,
        { retryAfterMs: 1000 },
      );
    }
    const uploader = this.#uploaderKey(member);
    // One user may hold only part of the server's bytes in progress, so that
    // uploads kept barely alive cannot shut everyone else out.
    let theirs = 0;
    for (const upload of this.#uploads.values()) {
      if (upload.uploader === uploader) theirs += upload.target.size;
    }
    if (theirs + target.size > limits.maxUploadingBytesPerUser) {
      throw new ChatError(
        "rate_limited",
        `Too many bytes of uploads in progress: ${limits.maxUploadingBytesPerUser} per user; ` +
          "finish one first",
        { retryAfterMs: 1000 },
      );
    }
    if (this.#uploadingBytes + target.size > limits.maxUploadingBytes) {
      throw new ChatError("server_busy", "The server has too many uploads in progress", {
        retryAfterMs: 5000,
      });
    }
    await this.#checkQuota(uploader, target.size);
    // Checked again: the quota's read let other requests in.
    if (this.#uploadingBytes + target.size > limits.maxUploadingBytes) {
      throw new ChatError("server_busy", "The server has too many uploads in progress", {
        retryAfterMs: 5000,
      });
    }
    this.#uploadingBytes += target.size;
    let writer: BlobWriter;
    try {
      writer = await this.#blobs.create(target.size);
    } catch (error) {
      this.#uploadingBytes -= target.size;
      throw error;
    }
    const upload: Upload = {
      id: randomId(),
      owner: member,
      uploader,
      target,
      type: target.mediaType ?? DEFAULT_FILE_TYPE,
      writer,
      received: 0,
      timer: 0 as unknown as ReturnType<typeof setTimeout>,
      chain: Promise.resolve(),
      ending: false,
    };
    this.#arm(upload);
    this.#uploads.set(upload.id, upload);
    let set = this.#byOwner.get(member);
    if (set === undefined) this.#byOwner.set(member, set = new Set());
    set.add(upload);
    return { upload: upload.id, chunkBytes: limits.chunkBytes };
  }

  async #checkQuota(uploader: string, size: number): Promise<void> {
    const { uploadQuotaBytes, uploadQuotaWindowMs } = this.limits;
    let used = await this.#broker.store.uploadedBytes(uploader, this.#now() - uploadQuotaWindowMs);
    for (const upload of this.#uploads.values()) {
      if (upload.uploader === uploader) used += upload.target.size;
    }
    if (used + size > uploadQuotaBytes) {
      throw new ChatError(
        "quota_exceeded",
        `Cannot upload ${size} bytes: you uploaded ${used} of your ${uploadQuotaBytes} bytes ` +
          `allowed per ${Math.round(uploadQuotaWindowMs / 3_600_000)} h`,
      );
    }
  }

  /** (Re)starts the stall timer: an upload that gets nothing for the timeout is dropped. */
  #arm(upload: Upload): void {
    clearTimeout(upload.timer);
    upload.timer = setTimeout(() => void this.#drop(upload), this.limits.uploadTimeoutMs);
    Deno.unrefTimer(upload.timer);
  }

  #owned(member: Member, id: string): Upload {
    const upload = this.#uploads.get(id);
    if (upload === undefined || upload.owner !== member) {
      throw new ChatError(
        "upload_failed",
        `No upload ${id} in progress on this connection (it timed out, failed or ended)`,
      );
    }
    if (upload.ending) {
      throw new ChatError("upload_failed", `Upload ${id} is ending: no more chunks`);
    }
    return upload;
  }

  /**
   * Appends a chunk at the offset received so far, within the size
   * announced. A connection may send several chunks without waiting: they
   * are written one after another, in the order they came.
   */
  chunk(
    member: Member,
    request: Pick<RequestOf<"upload_chunk">, "upload" | "offset" | "data">,
  ): Promise<ResultOf<"upload_chunk">> {
    const upload = this.#owned(member, request.upload);
    const run = upload.chain.then(() => this.#write(upload, request));
    upload.chain = run.then(() => {}, () => {});
    return run;
  }

  async #write(
    upload: Upload,
    request: { offset: number; data: Uint8Array },
  ): Promise<ResultOf<"upload_chunk">> {
    const { data, offset } = request;
    if (!this.#uploads.has(upload.id)) {
      throw new ChatError("upload_failed", `Upload ${upload.id} was dropped`);
    }
    if (offset !== upload.received) {
      throw new ChatError(
        "upload_failed",
        `Chunk at offset ${offset}: ${upload.received} bytes received so far; send from there`,
      );
    }
    if (data.length === 0 || data.length > this.limits.chunkBytes) {
      throw new ChatError(
        "bad_request",
        `A chunk holds 1 to ${this.limits.chunkBytes} bytes, got ${data.length}`,
      );
    }
    if (upload.received + data.length > upload.target.size) {
      await this.#drop(upload);
      throw new ChatError(
        "upload_failed",
        `Upload ${upload.id} is longer than the ${upload.target.size} bytes announced: dropped`,
      );
    }
    try {
      await upload.writer.write(data);
    } catch (error) {
      await this.#drop(upload);
      throw error;
    }
    upload.received += data.length;
    this.#arm(upload);
    return { received: upload.received };
  }

  /** Finishes an upload: checks size and hash, stores it, then announces it. */
  async end(member: Member, id: string): Promise<ResultOf<"upload_end">> {
    const upload = this.#owned(member, id);
    const { target } = upload;
    upload.ending = true;
    await upload.chain;
    if (!this.#uploads.has(id)) throw new ChatError("upload_failed", `Upload ${id} was dropped`);
    if (upload.received !== target.size) {
      upload.ending = false;
      throw new ChatError(
        "upload_failed",
        `Upload ${id} has ${upload.received} of its ${target.size} bytes: send the rest first`,
      );
    }
    clearTimeout(upload.timer);
    const sha256 = upload.writer.digest();
    if (target.sha256 !== undefined && target.sha256 !== sha256) {
      await this.#drop(upload);
      throw new ChatError(
        "upload_failed",
        `Upload ${id} does not match its sha256 (received ${sha256}): dropped, nothing was shared`,
      );
    }
    const record: FileRecord = {
      id: randomId(),
      name: target.name,
      type: upload.type,
      size: target.size,
      sha256,
      uploader: upload.uploader,
      room: target.room === undefined ? null : nameKey(target.room),
      to: target.to === undefined ? null : nameKey(target.to),
      ts: this.#now(),
    };
    try {
      // The metadata first: from then on retention (on any instance) keeps
      // this content, so the commit below cannot lose a blob it found there.
      await this.#inTurn(async () => {
        await this.#broker.store.write([{ kind: "file", record }]);
        await upload.writer.commit();
      });
    } catch (error) {
      await this.#drop(upload);
      throw new ChatError("storage", `Cannot store ${target.name}: ${String(error)}`, {
        cause: error,
      });
    }
    this.#forget(upload);
    const file: FileInfo = {
      id: record.id,
      name: record.name,
      size: record.size,
      type: record.type,
    };
    const body = target.body ?? target.name;
    if (target.room !== undefined) {
      const sent = await this.#broker.say(member, { room: target.room, body, file });
      return { file, id: sent.id, ts: sent.ts };
    }
    const sent = await this.#broker.directMessages.send(member, { to: target.to!, body, file });
    return sent.stored === true
      ? { file, id: sent.id, ts: sent.ts, stored: true }
      : { file, id: sent.id, ts: sent.ts };
  }

  /** Drops an upload of `member`'s: what was received is discarded. */
  async cancel(member: Member, id: string): Promise<ResultOf<"upload_cancel">> {
    await this.#drop(this.#owned(member, id));
    return { upload: id };
  }

  /** Drops every upload of a connection that closed. */
  dropAll(member: Member): void {
    for (const upload of this.#byOwner.get(member) ?? []) void this.#drop(upload);
  }

  async #drop(upload: Upload): Promise<void> {
    if (!this.#uploads.has(upload.id)) return;
    this.#forget(upload);
    await upload.writer.abort().catch(() => {});
  }

  #forget(upload: Upload): void {
    if (!this.#uploads.delete(upload.id)) return;
    clearTimeout(upload.timer);
    this.#uploadingBytes -= upload.target.size;
    const set = this.#byOwner.get(upload.owner);
    set?.delete(upload);
    if (set?.size === 0) this.#byOwner.delete(upload.owner);
  }

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => {});
    return run;
  }

  /**
   * The file `id` if `member` may read it: a room's file to its members, a
   * DM's to its two parties; `no_such_file` otherwise (the same for both,
   * so ids cannot be probed).
   */
  async readable(
    member: Pick<Member, "nick" | "account" | "rooms">,
    id: string,
    access: FileAccess,
  ): Promise<FileRecord> {
    const record = await this.#broker.store.getFile(id);
    const me = member.account ?? nameKey(member.nick);
    const allowed = record !== undefined && (
      record.room !== null
        ? access.canReadRoom(member as Member, record.room)
        : record.uploader === me || record.to === me
    );
    if (!allowed) throw new ChatError("no_such_file", `No file ${id} that you may read`);
    return record;
  }

  /** One chunk of file `request.file` from `request.offset` (default 0). */
  async download(
    member: Member,
    request: { file: string; offset?: number },
  ): Promise<ResultOf<"download">> {
    const record = await this.readable(member, request.file, {
      canReadRoom: (who, room) => this.#broker.isMemberOf(who, room),
    });
    const offset = request.offset ?? 0;
    if (offset > record.size) {
      throw new ChatError(
        "bad_request",
        `Offset ${offset} is past the end of ${record.name} (${record.size} bytes)`,
      );
    }
    const data = await this.#blobs.read(record.sha256, offset, this.limits.chunkBytes);
    const file: FileInfo = {
      id: record.id,
      name: record.name,
      size: record.size,
      type: record.type,
    };
    const result: ResultOf<"download"> = { file, sha256: record.sha256, offset, data };
    if (offset + data.length >= record.size) result.done = true;
    return result;
  }

  /**
   * A link to GET file `id` over HTTP, for `member` who may read it: the
   * link itself is the right to it, for {@linkcode LINK_TTL_MS}.
   */
  async link(member: Member, id: string): Promise<ResultOf<"file_url">> {
    const record = await this.readable(member, id, {
      canReadRoom: (who, room) => this.#broker.isMemberOf(who, room),
    });
    const expiresAt = this.#now() + LINK_TTL_MS;
    const token = `${expiresAt.toString(36)}.${this.#sign(record.id, expiresAt)}`;
    return { url: `/files/${record.id}?t=${token}`, expiresAt };
  }

  #sign(id: string, expiresAt: number): string {
    return createHmac("sha256", this.#linkSecret).update(`${id}.${expiresAt}`).digest(
      "base64url",
    );
  }

  /** The file a link of {@linkcode link} names, if the token is its own and not expired. */
  async byLink(id: string, token: string): Promise<FileRecord> {
    const [stamp = "", mac = ""] = token.split(".", 2);
    const expiresAt = parseInt(stamp, 36);
    const expected = Buffer.from(this.#sign(id, expiresAt));
    const given = Buffer.from(mac);
    const valid = Number.isSafeInteger(expiresAt) && expiresAt > this.#now() &&
      expected.length === given.length && timingSafeEqual(expected, given);
    const record = valid ? await this.#broker.store.getFile(id) : undefined;
    if (record === undefined) {
      throw new ChatError("no_such_file", `No file ${id}, or the link expired: ask for a new one`);
    }
    return record;
  }

  /** Uploads `bytes` whole for an API key's bot (the REST API): begin, chunks, end. */
  async uploadBytes(
    bot: Member,
    target: UploadTarget,
    bytes: Uint8Array,
  ): Promise<ResultOf<"upload_end">> {
    const member = bot;
    const { upload } = await this.begin(member, { ...target, size: bytes.length }, { bot: true });
    try {
      for (let offset = 0; offset < bytes.length; offset += this.limits.chunkBytes) {
        const data = bytes.subarray(offset, offset + this.limits.chunkBytes);
        await this.chunk(member, { upload, offset, data });
      }
    } catch (error) {
      const pending = this.#uploads.get(upload);
      if (pending !== undefined) await this.#drop(pending);
      throw error;
    }
    return await this.end(member, upload);
  }

  /** The bytes of a file already authorised, for HTTP: the whole of it, a chunk at a time. */
  async *bytesOf(record: FileRecord): AsyncGenerator<Uint8Array> {
    for (let offset = 0; offset < record.size; offset += this.limits.chunkBytes) {
      yield await this.#blobs.read(record.sha256, offset, this.limits.chunkBytes);
    }
  }

  /**
   * Retention: deletes files no message refers to any more, then their
   * content. Files younger than `graceMs` (default an hour) are kept: a
   * file is written just before its message.
   */
  prune(options: { graceMs?: number } = {}): Promise<number> {
    return this.#inTurn(async () => {
      const before = this.#now() - (options.graceMs ?? 60 * 60_000);
      const gone = await this.#broker.store.pruneFiles(before);
      for (const sha256 of gone) await this.#blobs.delete(sha256);
      return gone.length;
    });
  }

  /** Stops every stall timer (shutdown). */
  close(): void {
    for (const upload of [...this.#uploads.values()]) void this.#drop(upload);
  }
}
