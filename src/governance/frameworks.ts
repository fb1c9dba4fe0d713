// The catalogue behind the framework report: Mandate's controls (what each one is, in a line),
// and the items of four frameworks — OWASP Top 10 for Agentic Applications (2026), OWASP
// Non-Human Identities Top 10 (2025), the NIST AI RMF subcategories a runtime gateway speaks to,
// and CSA MAESTRO's seven layers — each mapped to the controls that address it. Data only: how a
// control is evaluated against a live deployment is in report.ts.
//
// `reach` is the most Mandate can give an item on its own: `full` (the item is about what Mandate
// does), `partial` (Mandate bounds or records part of it; the rest happens where Mandate cannot
// see, and `why` says what), `none` (not applicable to a gateway; `why` says why).

export const CONTROL_IDS = [
  'inventory',
  'access-review',
  'offboarding',
  'key-bound',
  'short-lived',
  'authn',
  'policy',
  'task-scope',
  'enforcement',
  'approval-gates',
  'tool-pinning',
  'input-validation',
  'secrets',
  'audit-chain',
  'audit-export',
  'telemetry',
  'break-glass',
  'delegation',
  'provenance',
  'taint',
  'limits',
  'exposure',
  'environments',
  'identity-reuse',
  'human-use',
  'third-party',
] as const;
export type ControlId = (typeof CONTROL_IDS)[number];

/** What each control is, independent of any deployment. */
export const CONTROLS: Record<ControlId, { title: string; what: string }> = {
  inventory: { title: 'Agent registry with accountable owners', what: 'every agent is registered with an owner who is a Mandate user, a purpose and an environment' },
  'access-review': { title: 'Periodic access review', what: 'agents carry a review-by date; the access review compares what each can reach with what it used' },
  offboarding: { title: 'Offboarding and the kill switch', what: 'suspension and retirement end every task at once, revocation cascades to delegated tasks, stale agents are found' },
  'key-bound': { title: 'Key-bound credentials (DPoP)', what: 'task credentials bound to a proof-of-possession key outside `credentials.bearerEnvironments`' },
  'short-lived': { title: 'Short-lived, task-scoped credentials', what: 'a credential lives as long as its task, capped by `tasks.maxTtl`, and dies with it' },
  authn: { title: 'Workload authentication', what: 'agents authenticate with signed client assertions (asymmetric algorithms only, short-lived, single use)' },
  policy: { title: 'Deny-by-default policy on every call', what: 'Cedar decides every task start and tool call; nothing is allowed unless a policy permits it' },
  'task-scope': { title: 'Task scope declared before untrusted input', what: 'a task fixes its tools, argument constraints and resources up front; calls outside it are denied' },
  enforcement: { title: 'Enforced decisions', what: 'policy denials are enforced, not only recorded (observe mode)' },
  'approval-gates': { title: 'Human approval for high-risk tools', what: 'destructive, admin and egress tools wait for a person to approve the exact call (or cannot be called at all)' },
  'tool-pinning': { title: 'Pinned tool definitions', what: 'an upstream tool whose definition changes is blocked until an admin accepts the change' },
  'input-validation': { title: 'Arguments checked and forwarded canonically', what: 'arguments are checked against the pinned input schema; undeclared arguments are refused; resources are forwarded in the form checked' },
  secrets: { title: 'Secrets brokered, never held by agents', what: 'upstream credentials come from named secrets (environment, files, Vault) and are redacted from results, logs and audit' },
  'audit-chain': { title: 'Hash-chained audit', what: 'every decision and change is an event in an append-only hash chain that can be verified' },
  'audit-export': { title: 'Audit streamed off the host', what: 'the log is delivered to file or HTTP sinks (SIEM) with signed checkpoints of its head' },
  telemetry: { title: 'Operational telemetry', what: 'OpenTelemetry traces of token, call, decision and upstream spans' },
  'break-glass': { title: 'Break-glass: time-boxed and two-person', what: 'emergency access needs a quorum of people other than the requester, is capped in time and never delegated' },
  delegation: { title: 'Delegation narrows and is bounded', what: 'token exchange with signed tickets: a child gets a subset of its parent, within a depth limit, and dies with it' },
  provenance: { title: 'Provenance of argument values', what: 'which argument values came only from content others wrote (untrusted tool results) is known to policy and approvers' },
  taint: { title: 'Data classification taint', what: 'a task carries the classifications of what it read; policy can refuse egress after sensitive reads' },
  limits: { title: 'Budgets, timeouts and size limits', what: 'per-task call budgets charged atomically across delegation, call timeouts, result size and session caps' },
  exposure: { title: "Mandate's own exposure", what: 'where Mandate listens, whether agents reach it over TLS, how it reaches its database' },
  environments: { title: 'Environment separation', what: 'each agent has an environment that policies and credential rules distinguish' },
  'identity-reuse': { title: 'One identity per workload', what: 'no key is registered for more than one agent; stock clients get one identity per (client, person)' },
  'human-use': { title: 'People use their own identity', what: 'people act with personal tokens (audited by name), not the shared admin token or an agent credential' },
  'third-party': { title: 'Third-party clients', what: 'stock MCP clients register (or are fetched) under controls and act only for a person who consented, through policy' },
};

export type Reach = 'full' | 'partial' | 'none';

export interface FrameworkItem {
  id: string;
  title: string;
  /** The risk or outcome, in a line. */
  about: string;
  controls: ControlId[];
  reach: Reach;
  /** Why reach is partial or none. */
  why?: string;
}

export interface Framework {
  id: 'owasp-asi' | 'owasp-nhi' | 'nist-ai-rmf' | 'csa-maestro';
  name: string;
  version: string;
  /** What part of the framework is covered, when not all of it. */
  note?: string;
  url: string;
  items: FrameworkItem[];
}

export const FRAMEWORKS: Framework[] = [
  {
    id: 'owasp-asi',
    name: 'OWASP Top 10 for Agentic Applications',
    version: '2026',
    url: 'https://genai.owasp.org/resource/owasp-top-10-for-agentic-applications-for-2026/',
    items: [
      { id: 'ASI01', title: 'Agent Goal Hijack', about: 'content the agent reads changes its objective or decision path', controls: ['task-scope', 'policy', 'provenance', 'approval-gates', 'enforcement'], reach: 'partial', why: 'Mandate does not see prompts; it bounds what a hijacked agent can do (scope fixed before untrusted input) and flags values that came only from untrusted content' },
      { id: 'ASI02', title: 'Tool Misuse & Exploitation', about: 'legitimate tools used beyond their purpose: over-privilege, poisoned input, chained misuse', controls: ['policy', 'task-scope', 'input-validation', 'approval-gates', 'limits', 'enforcement'], reach: 'full' },
      { id: 'ASI03', title: 'Identity & Privilege Abuse', about: 'agents reuse, inherit or escalate credentials and privileges', controls: ['inventory', 'authn', 'key-bound', 'short-lived', 'delegation', 'identity-reuse'], reach: 'full' },
      { id: 'ASI04', title: 'Agentic Supply Chain Vulnerabilities', about: 'tools, MCP servers, prompts or models from third parties are malicious or change under you', controls: ['tool-pinning', 'input-validation', 'secrets'], reach: 'partial', why: 'Mandate pins the tool definitions its upstreams offer; it does not scan packages, images or models' },
      { id: 'ASI05', title: 'Unexpected Code Execution', about: 'an agent is led to run generated or injected code', controls: ['approval-gates', 'policy', 'enforcement'], reach: 'partial', why: 'Mandate decides whether a code-running tool may be called and with which arguments; it is not a sandbox for what the code does' },
      { id: 'ASI06', title: 'Memory & Context Poisoning', about: 'poisoned memory, retrieval or context steers later decisions', controls: ['provenance', 'taint'], reach: 'partial', why: "memory lives in the agent; Mandate tracks where argument values came from and what data a task has read" },
      { id: 'ASI07', title: 'Insecure Inter-Agent Communication', about: 'messages and authority passed between agents are spoofed, replayed or widened', controls: ['delegation', 'key-bound', 'exposure'], reach: 'partial', why: 'delegation through Mandate is authenticated and narrowing; messages agents exchange outside Mandate are not seen' },
      { id: 'ASI08', title: 'Cascading Failures', about: "one agent's fault or compromise propagates through others", controls: ['limits', 'offboarding', 'delegation'], reach: 'partial', why: 'budgets, timeouts and cascading revocation contain the spread; the agents\' own error handling is outside Mandate' },
      { id: 'ASI09', title: 'Human-Agent Trust Exploitation', about: 'people are talked into approving or trusting harmful agent actions', controls: ['approval-gates', 'provenance', 'break-glass'], reach: 'partial', why: 'approvers see the exact action and where its values came from; what an agent tells people elsewhere is not seen' },
      { id: 'ASI10', title: 'Rogue Agents', about: 'an agent acts outside its mandate, by compromise or drift', controls: ['inventory', 'offboarding', 'audit-chain', 'enforcement', 'access-review'], reach: 'full' },
    ],
  },
  {
    id: 'owasp-nhi',
    name: 'OWASP Non-Human Identities Top 10',
    version: '2025',
    url: 'https://owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025/',
    items: [
      { id: 'NHI1', title: 'Improper Offboarding', about: 'identities of retired workloads stay active', controls: ['inventory', 'offboarding', 'access-review'], reach: 'full' },
      { id: 'NHI2', title: 'Secret Leakage', about: 'keys and tokens leak into code, config, logs or chat', controls: ['secrets', 'short-lived'], reach: 'partial', why: 'secrets Mandate brokers never reach agents, logs or audit; secrets elsewhere in your estate are out of its sight' },
      { id: 'NHI3', title: 'Vulnerable Third-Party NHI', about: 'third-party integrations hold credentials that can be stolen or misused', controls: ['third-party', 'secrets', 'tool-pinning'], reach: 'partial', why: 'covers clients and upstreams that go through Mandate; integrations that bypass it are not seen' },
      { id: 'NHI4', title: 'Insecure Authentication', about: 'weak, deprecated or replayable authentication of workloads', controls: ['authn', 'key-bound', 'exposure'], reach: 'full' },
      { id: 'NHI5', title: 'Overprivileged NHI', about: 'identities hold far more privilege than their function needs', controls: ['policy', 'task-scope', 'access-review', 'short-lived'], reach: 'full' },
      { id: 'NHI6', title: 'Insecure Cloud Deployment Configurations', about: 'CI/CD and cloud identities configured with static or broad credentials', controls: ['exposure', 'audit-export'], reach: 'partial', why: "Mandate reports its own exposure; your cloud and pipeline configuration is outside it" },
      { id: 'NHI7', title: 'Long-Lived Secrets', about: 'credentials that never expire or are never rotated', controls: ['short-lived', 'secrets'], reach: 'full' },
      { id: 'NHI8', title: 'Environment Isolation', about: 'the same identities and credentials cross dev, test and production', controls: ['environments', 'key-bound'], reach: 'full' },
      { id: 'NHI9', title: 'NHI Reuse', about: 'one identity shared by several workloads', controls: ['identity-reuse', 'inventory'], reach: 'full' },
      { id: 'NHI10', title: 'Human Use of NHI', about: 'people act through machine identities, without their own attribution', controls: ['human-use'], reach: 'full' },
    ],
  },
  {
    id: 'nist-ai-rmf',
    name: 'NIST AI Risk Management Framework',
    version: '1.0',
    note: 'the subcategories a runtime gateway speaks to (of GOVERN, MAP, MEASURE and MANAGE)',
    url: 'https://www.nist.gov/itl/ai-risk-management-framework',
    items: [
      { id: 'GOVERN 1.4', title: 'Risk management through transparent policies and controls', about: 'the risk management process and its outcomes are established through transparent policies, procedures and controls', controls: ['policy', 'audit-chain'], reach: 'full' },
      { id: 'GOVERN 1.5', title: 'Ongoing monitoring and periodic review', about: 'monitoring and periodic review are planned, with roles and review frequency defined', controls: ['access-review', 'audit-export'], reach: 'full' },
      { id: 'GOVERN 1.6', title: 'Inventory of AI systems', about: 'mechanisms are in place to inventory AI systems', controls: ['inventory'], reach: 'full' },
      { id: 'GOVERN 1.7', title: 'Decommissioning', about: 'AI systems are decommissioned and phased out safely', controls: ['offboarding'], reach: 'full' },
      { id: 'GOVERN 2.1', title: 'Roles and responsibilities', about: 'roles, responsibilities and lines of communication for AI risk are documented and clear', controls: ['inventory', 'human-use'], reach: 'full' },
      { id: 'GOVERN 6.1', title: 'Third-party risk policies', about: 'policies address risks of third-party entities, software and data', controls: ['third-party', 'tool-pinning'], reach: 'partial', why: 'covers third parties reached through Mandate (clients, upstream tools); contracts and vendor review are outside it' },
      { id: 'MAP 1.1', title: 'Intended purpose and context documented', about: 'intended purposes, context and expectations of use are understood and documented', controls: ['inventory', 'task-scope'], reach: 'full' },
      { id: 'MAP 3.5', title: 'Human oversight defined', about: 'processes for human oversight are defined, assessed and documented', controls: ['approval-gates', 'break-glass'], reach: 'full' },
      { id: 'MAP 4.1', title: 'Third-party components mapped', about: 'risks of components, including third-party software and data, are mapped', controls: ['tool-pinning', 'third-party'], reach: 'partial', why: 'Mandate maps the tools and clients it fronts; models and libraries inside agents are not seen' },
      { id: 'MEASURE 2.4', title: 'Behaviour monitored in production', about: 'the functionality and behaviour of the AI system are monitored in production', controls: ['audit-chain', 'audit-export', 'telemetry'], reach: 'full' },
      { id: 'MEASURE 2.7', title: 'Security and resilience evaluated', about: 'AI system security and resilience are evaluated and documented', controls: ['key-bound', 'exposure', 'limits', 'enforcement'], reach: 'partial', why: 'this report documents the runtime controls; testing the agents themselves (red-teaming) is outside it' },
      { id: 'MEASURE 2.8', title: 'Transparency and accountability', about: 'risks of transparency and accountability are examined and documented', controls: ['audit-chain', 'inventory'], reach: 'full' },
      { id: 'MANAGE 2.4', title: 'Supersede, disengage or deactivate', about: 'mechanisms are in place and applied to deactivate AI systems that act inconsistently with intended use', controls: ['offboarding', 'break-glass'], reach: 'full' },
      { id: 'MANAGE 4.1', title: 'Post-deployment monitoring, override and change management', about: 'monitoring, override, decommissioning, incident response and change management are implemented', controls: ['audit-export', 'telemetry', 'tool-pinning', 'offboarding'], reach: 'full' },
      { id: 'MANAGE 4.3', title: 'Incidents tracked and communicated', about: 'incidents and errors are tracked, responded to and communicated', controls: ['audit-chain', 'audit-export'], reach: 'partial', why: 'Mandate records and streams the evidence; communicating and responding is your incident process' },
    ],
  },
  {
    id: 'csa-maestro',
    name: 'CSA MAESTRO',
    version: '2025',
    note: 'the seven layers of the agentic AI threat-modelling framework',
    url: 'https://cloudsecurityalliance.org/blog/2025/02/06/agentic-ai-threat-modeling-framework-maestro',
    items: [
      { id: 'L1', title: 'Foundation Models', about: 'integrity and behaviour of the models agents run on', controls: [], reach: 'none', why: 'Mandate does not host, tune or call models; it bounds what an agent on any model may do (layer 3)' },
      { id: 'L2', title: 'Data Operations', about: 'data pipelines, retrieval stores and the data agents read', controls: ['taint', 'provenance', 'secrets'], reach: 'partial', why: 'data reached through Mandate is classified, tracked and (databases) reached with per-task roles; stores agents read directly are not seen' },
      { id: 'L3', title: 'Agent Frameworks', about: 'tool orchestration, autonomy boundaries and tool definitions', controls: ['task-scope', 'policy', 'tool-pinning', 'input-validation', 'approval-gates', 'enforcement'], reach: 'full' },
      { id: 'L4', title: 'Deployment & Infrastructure', about: 'where agents and their gateway run, and how they reach things', controls: ['exposure', 'key-bound', 'secrets', 'limits'], reach: 'partial', why: "Mandate's own deployment only; hosts, networks and clusters are outside it" },
      { id: 'L5', title: 'Evaluation & Observability', about: 'seeing what agents did, and evaluating it', controls: ['audit-chain', 'audit-export', 'telemetry'], reach: 'full' },
      { id: 'L6', title: 'Security & Compliance', about: 'controls and evidence across every layer', controls: ['policy', 'access-review', 'audit-chain', 'inventory'], reach: 'full' },
      { id: 'L7', title: 'Agent Ecosystem', about: 'agents, clients and their interactions in the wider ecosystem', controls: ['inventory', 'delegation', 'identity-reuse', 'third-party'], reach: 'partial', why: 'agents registered with Mandate and clients that go through it; agents elsewhere are not seen' },
    ],
  },
];
