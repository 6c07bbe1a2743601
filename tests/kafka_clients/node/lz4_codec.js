'use strict'
// LZ4 codec for KafkaJS built on lz4js (pure JavaScript, no native build).
//
// Kafka's LZ4 compression (record batch magic 2) is the LZ4 frame format, and
// Kafka only accepts frames whose descriptor sets the block-independence flag
// ("Dependent block stream is unsupported" otherwise). lz4js's own frame writer
// leaves that flag clear, so this codec writes the frame itself: 64 KiB blocks,
// each compressed with lz4js's block compressor and a fresh hash table (so no
// block refers back into an earlier one), no block or content checksums.
// Decompression uses lz4js's frame reader, which accepts any valid frame.
const lz4js = require('lz4js')
const xxh32 = require('lz4js/xxh32.js')

const MAGIC = 0x184d2204
const FLG = 0x40 | 0x20 // version 01, independent blocks
const BD = 4 << 4 // max block size 64 KiB
const BLOCK = 64 * 1024
const UNCOMPRESSED = 0x80000000

function compressFrame(src) {
  const out = []
  const header = Buffer.alloc(7)
  header.writeUInt32LE(MAGIC, 0)
  header[4] = FLG
  header[5] = BD
  header[6] = (xxh32.hash(0, header, 4, 2) >> 8) & 0xff
  out.push(header)
  const scratch = new Uint8Array(lz4js.compressBound(BLOCK))
  const table = new Uint32Array(1 << 16)
  for (let start = 0; start < src.length; start += BLOCK) {
    const len = Math.min(BLOCK, src.length - start)
    table.fill(0)
    const size = lz4js.compressBlock(src, scratch, start, len, table)
    const sizeField = Buffer.alloc(4)
    if (size === 0 || size >= len) {
      sizeField.writeUInt32LE((UNCOMPRESSED | len) >>> 0, 0)
      out.push(sizeField, Buffer.from(src.subarray(start, start + len)))
    } else {
      sizeField.writeUInt32LE(size, 0)
      out.push(sizeField, Buffer.from(scratch.subarray(0, size)))
    }
  }
  out.push(Buffer.alloc(4)) // end mark
  return Buffer.concat(out)
}

module.exports = () => ({
  async compress(encoder) {
    return compressFrame(encoder.buffer)
  },
  async decompress(buffer) {
    return Buffer.from(lz4js.decompress(buffer))
  },
})
