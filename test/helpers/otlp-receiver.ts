/**
 * A loopback OTLP/HTTP traces receiver that decodes what it gets, as a
 * collector would: `application/json` (OTLP/JSON: hex ids, enums as
 * numbers) and `application/x-protobuf`, decoded by protobufjs against the
 * OTLP trace messages written out below, independently of the encoder under
 * test (the exporter's own serializer). Each span is kept flattened, with
 * its attributes as plain values, for the tests to query.
 *
 * @see https://opentelemetry.io/docs/specs/otlp/#otlphttp
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import protobuf from 'protobufjs'

export type AttributeValue = string | number | boolean | null | AttributeValue[]

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** '' for a root span. */
  readonly parentSpanId: string
  readonly name: string
  /** 1 internal, 2 server, 3 client (OTLP's SpanKind). */
  readonly kind: number
  readonly attributes: Readonly<Record<string, AttributeValue>>
  readonly events: ReadonlyArray<{ readonly name: string, readonly timeUnixNano: bigint, readonly attributes: Readonly<Record<string, AttributeValue>> }>
  readonly links: ReadonlyArray<{ readonly traceId: string, readonly spanId: string, readonly attributes: Readonly<Record<string, AttributeValue>> }>
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly resource: Readonly<Record<string, AttributeValue>>
  readonly scope: string
}

export interface ExportRequest {
  readonly contentType: string
  readonly headers: IncomingHttpHeaders
  readonly path: string
  /** As received: what a scan for secrets reads whole. */
  readonly body: Buffer
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`: the base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans are posted to /v1/traces. */
  readonly url: string
  readonly spans: ReceivedSpan[]
  readonly exports: ExportRequest[]
  /** Resolves once at least `count` spans have arrived, or rejects after `timeoutMs`. */
  waitForSpans (count: number, timeoutMs?: number): Promise<ReceivedSpan[]>
  close (): Promise<void>
}

const KIND = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 }

/** The OTLP trace export request (opentelemetry-proto collector/trace/v1, trace/v1, common/v1, resource/v1), field numbers as the protocol fixes them. */
const SCHEMA = {
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 }, schemaUrl: { type: 'string', id: 3 } } },
        Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } } },
        ScopeSpans: { fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 }, schemaUrl: { type: 'string', id: 3 } } },
        InstrumentationScope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 }, attributes: { rule: 'repeated', type: 'KeyValue', id: 3 } } },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            traceState: { type: 'string', id: 3 },
            parentSpanId: { type: 'bytes', id: 4 },
            flags: { type: 'fixed32', id: 16 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            startTimeUnixNano: { type: 'fixed64', id: 7 },
            endTimeUnixNano: { type: 'fixed64', id: 8 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
            droppedAttributesCount: { type: 'uint32', id: 10 },
            events: { rule: 'repeated', type: 'Event', id: 11 },
            droppedEventsCount: { type: 'uint32', id: 12 },
            links: { rule: 'repeated', type: 'Link', id: 13 },
            droppedLinksCount: { type: 'uint32', id: 14 },
            status: { type: 'Status', id: 15 }
          }
        },
        Event: { fields: { timeUnixNano: { type: 'fixed64', id: 1 }, name: { type: 'string', id: 2 }, attributes: { rule: 'repeated', type: 'KeyValue', id: 3 } } },
        Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, traceState: { type: 'string', id: 3 }, attributes: { rule: 'repeated', type: 'KeyValue', id: 4 }, flags: { type: 'fixed32', id: 6 } } },
        Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
        KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
          fields: {
            stringValue: { type: 'string', id: 1 },
            boolValue: { type: 'bool', id: 2 },
            intValue: { type: 'int64', id: 3 },
            doubleValue: { type: 'double', id: 4 },
            arrayValue: { type: 'ArrayValue', id: 5 },
            kvlistValue: { type: 'KeyValueList', id: 6 },
            bytesValue: { type: 'bytes', id: 7 }
          }
        },
        ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
        KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } }
      }
    }
  }
}

const ExportTraceServiceRequest = protobuf.Root.fromJSON(SCHEMA).lookupType('otlp.ExportTraceServiceRequest')

/** Decoded either way, the same plain shape: ids as hex, numbers as numbers, 64-bit times as bigint. */
interface Plain {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] }
    scopeSpans?: Array<{ scope?: { name?: string }, spans?: PlainSpan[] }>
  }>
}
interface KeyValue { key: string, value?: AnyValue }
interface AnyValue { stringValue?: string, boolValue?: boolean, intValue?: string | number, doubleValue?: number, arrayValue?: { values?: AnyValue[] }, kvlistValue?: { values?: KeyValue[] } }
interface PlainSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number | string
  startTimeUnixNano: string | number
  endTimeUnixNano: string | number
  attributes?: KeyValue[]
  events?: Array<{ name: string, timeUnixNano: string | number, attributes?: KeyValue[] }>
  links?: Array<{ traceId: string, spanId: string, attributes?: KeyValue[] }>
  status?: { code?: number | string }
}

function decodeProtobuf (body: Buffer): Plain {
  const message = ExportTraceServiceRequest.decode(body)
  // bytes as base64 (then hex below), 64-bit integers as decimal strings.
  const plain = ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String, defaults: false }) as Plain
  for (const resource of plain.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        span.traceId = hex(span.traceId)
        span.spanId = hex(span.spanId)
        span.parentSpanId = hex(span.parentSpanId ?? '')
        for (const link of span.links ?? []) {
          link.traceId = hex(link.traceId)
          link.spanId = hex(link.spanId)
        }
      }
    }
  }
  return plain
}

function hex (base64: string): string {
  return Buffer.from(base64, 'base64').toString('hex')
}

function value (any: AnyValue | undefined): AttributeValue {
  if (any === undefined) return null
  if (any.stringValue !== undefined) return any.stringValue
  if (any.boolValue !== undefined) return any.boolValue
  if (any.intValue !== undefined) return Number(any.intValue)
  if (any.doubleValue !== undefined) return any.doubleValue
  if (any.arrayValue !== undefined) return (any.arrayValue.values ?? []).map(value)
  if (any.kvlistValue !== undefined) return (any.kvlistValue.values ?? []).map((kv) => [kv.key, value(kv.value)])
  return null
}

function attributes (list: KeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]))
}

function flatten (plain: Plain): ReceivedSpan[] {
  const spans: ReceivedSpan[] = []
  for (const resourceSpans of plain.resourceSpans ?? []) {
    const resource = attributes(resourceSpans.resource?.attributes)
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          kind: typeof span.kind === 'string' ? KIND[span.kind as keyof typeof KIND] : span.kind,
          attributes: attributes(span.attributes),
          events: (span.events ?? []).map((event) => ({ name: event.name, timeUnixNano: BigInt(event.timeUnixNano), attributes: attributes(event.attributes) })),
          links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId, attributes: attributes(link.attributes) })),
          status: Number(span.status?.code ?? 0),
          startTimeUnixNano: BigInt(span.startTimeUnixNano),
          endTimeUnixNano: BigInt(span.endTimeUnixNano),
          resource,
          scope: scopeSpans.scope?.name ?? ''
        })
      }
    }
  }
  return spans
}

/** Start a receiver; closed when the test ends. An undecodable export fails with 400 and is kept in `errors`. */
export async function startOtlpReceiver (t: TestContext): Promise<OtlpReceiver & { readonly errors: Error[] }> {
  const spans: ReceivedSpan[] = []
  const exports: ExportRequest[] = []
  const errors: Error[] = []
  const waiters = new Set<() => void>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? ''
      const body = Buffer.concat(chunks)
      exports.push({ contentType, headers: req.headers, path: req.url ?? '', body })
      try {
        const plain = contentType.startsWith('application/json') ? JSON.parse(body.toString('utf8')) as Plain : decodeProtobuf(body)
        spans.push(...flatten(plain))
      } catch (err) {
        errors.push(err as Error)
        res.writeHead(400).end()
        return
      }
      for (const wake of [...waiters]) wake()
      // An empty ExportTraceServiceResponse: all accepted.
      if (contentType.startsWith('application/json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.after(close)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    exports,
    errors,
    async waitForSpans (count, timeoutMs = 5000) {
      if (spans.length >= count) return spans
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`only ${spans.length} of ${count} spans arrived within ${timeoutMs} ms`))
        }, timeoutMs)
        const check = (): void => {
          if (spans.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
      return spans
    },
    close
  }
}
