// Audit streaming: sinks that get every audit event in order (a file, an HTTP collector or SIEM),
// signed checkpoints of the chain head, and verification of an archive.

export { CHECKPOINT_EVENT, signCheckpoint, verifyCheckpoint, type Checkpoint, type CheckpointData } from './checkpoint.js';
export { FileSink, type FileSinkOptions } from './file-sink.js';
export { createSinkRunner, sinksFromConfig, type SinkDeps } from './from-config.js';
export { HttpSink, type HttpSinkOptions } from './http-sink.js';
export { otlpLogs } from './otlp.js';
export { SinkRunner, type SinkRunnerOptions, type SinksStatus, type SinkStatus } from './runner.js';
export { eventLine, type AuditSink, type DeliveryResult } from './sink.js';
export { describeVerifyExport, verifyExport, type VerifyExportResult } from './verify-export.js';
