// The GraphQL documents the pages send, with the shapes of their answers.

export interface Ref {
  id: string;
  name: string;
}

export interface TopicRef {
  id: string;
  name: string;
  message: string;
}

export interface PodSummary {
  id: string;
  name: string;
  namespace: string;
  healthy: boolean;
}

// ---- mesh map ----

export const meshMapQuery = `query MeshMap {
  services {
    id name description
    dependsOn { id }
    pods { id name namespace healthy }
    components { id processors { id } }
  }
  pods { id name namespace healthy lastError }
}`;

export interface MeshMapData {
  services: {
    id: string;
    name: string;
    description: string;
    dependsOn: { id: string }[];
    pods: PodSummary[];
    components: { id: string; processors: { id: string }[] }[];
  }[];
  pods: { id: string; name: string; namespace: string; healthy: boolean; lastError: string | null }[];
}

/** The topics of the map's data-flow level: who writes and reads each. */
export const flowMapQuery = `query FlowMap {
  topics { id name recordsPerSecond producerServices { id } consumerServices { id } processorPersistences { id } }
}`;

export interface FlowMapData {
  topics: {
    id: string;
    name: string;
    recordsPerSecond: number | null;
    producerServices: { id: string }[];
    consumerServices: { id: string }[];
    processorPersistences: { id: string }[];
  }[];
}

// ---- live flow (consumer-group lag, measured from the brokers by discovery) ----

export const flowQuery = `query Flow {
  services { id components { processors { id name groupName lag { state total updatedAt error topics { name lag recordsPerSecond } } } } }
}`;

export interface ConsumerGroupLag {
  state: string;
  /** Int64 scalar: a number, or a string when it passes 2^53. */
  total: number | string;
  updatedAt: string;
  error: string | null;
  topics: { name: string; lag: number | string; recordsPerSecond: number }[];
}

export interface FlowData {
  services: { id: string; components: { processors: { id: string; name: string; groupName: string; lag: ConsumerGroupLag | null }[] }[] }[];
}

// ---- service ----

const partsOfComponent = `
  processors { id name }
  sources { id topic { id name } }
  sinks { id name }
  views { id topic { id name } }
  viewSources { id name }
  viewSinks { id name }`;

export const serviceQuery = `query Service($id: ID!) {
  serviceById(id: $id) {
    id name description
    dependsOn { id name }
    dependents { id name }
    pods { id name namespace address healthy lastScrape lastError }
    components {
      id name description
      ${partsOfComponent}
      dependsOn { id name service { id name } }
      dependents { id name service { id name } }
    }
  }
}`;

export interface PartLists {
  processors: Ref[];
  sources: { id: string; topic: Ref }[];
  sinks: Ref[];
  views: { id: string; topic: Ref }[];
  viewSources: Ref[];
  viewSinks: Ref[];
}

export interface PodDetail {
  id: string;
  name: string;
  namespace: string;
  address: string;
  healthy: boolean;
  lastScrape: string | null;
  lastError: string | null;
}

export interface ServiceData {
  serviceById: {
    id: string;
    name: string;
    description: string;
    dependsOn: Ref[];
    dependents: Ref[];
    pods: PodDetail[];
    components: ({ id: string; name: string; description: string; dependsOn: (Ref & { service: Ref })[]; dependents: (Ref & { service: Ref })[] } & PartLists)[];
  } | null;
}

// ---- component ----

const topicFields = "topic { id name message }";

export const componentQuery = `query Component($id: ID!) {
  componentById(id: $id) {
    id name description
    service { id name }
    processors {
      id name description groupName
      inputs { ${topicFields} }
      joins { ${topicFields} }
      lookups { ${topicFields} }
      outputs { description ${topicFields} }
      persistence { id name message }
    }
    sources { id ${topicFields} }
    sinks { id name description ${topicFields} }
    views { id ${topicFields} }
    viewSources { id name description ${topicFields} }
    viewSinks { id name description ${topicFields} }
    dependsOn { id name service { id name } }
    dependents { id name service { id name } }
  }
}`;

export interface ComponentProcessor {
  id: string;
  name: string;
  description: string;
  groupName: string;
  inputs: { topic: TopicRef }[];
  joins: { topic: TopicRef }[];
  lookups: { topic: TopicRef }[];
  outputs: { description: string; topic: TopicRef }[];
  persistence: TopicRef | null;
}

export interface ComponentData {
  componentById: {
    id: string;
    name: string;
    description: string;
    service: Ref;
    processors: ComponentProcessor[];
    sources: { id: string; topic: TopicRef }[];
    sinks: { id: string; name: string; description: string; topic: TopicRef }[];
    views: { id: string; topic: TopicRef }[];
    viewSources: { id: string; name: string; description: string; topic: TopicRef }[];
    viewSinks: { id: string; name: string; description: string; topic: TopicRef }[];
    dependsOn: (Ref & { service: Ref })[];
    dependents: (Ref & { service: Ref })[];
  } | null;
}

// ---- processor (and its live watch) ----

export const processorQuery = `query Processor($id: ID!) {
  processorById(id: $id) {
    id name description groupName
    component { id name service { id name } }
    inputs { ${topicFields} }
    joins { ${topicFields} }
    lookups { ${topicFields} }
    outputs { description ${topicFields} }
    persistence { id name message }
    pods { id name namespace address healthy lastScrape lastError }
  }
}`;

export interface ProcessorData {
  processorById: (Omit<ComponentProcessor, "pods"> & { component: Ref & { service: Ref }; pods: PodDetail[] }) | null;
}

export const watchSubscription = `subscription Watch($processorId: ID!, $key: String!) {
  watchProcessor(options: { processorId: $processorId, key: $key }) {
    startTime endTime
    input { topic message value partition offset timestamp headers { key value base64 } }
    actions {
      __typename topic message value
      ... on Lookup { key }
      ... on Output { key }
    }
    pod { id name }
  }
}`;

export interface WatchedAction {
  __typename: "Join" | "Lookup" | "GetState" | "SetState" | "Output";
  topic: string;
  message: string;
  value: string;
  key?: string;
}

/** A Kafka record header; value is null when the bytes are not UTF-8. */
export interface RecordHeader {
  key: string;
  value: string | null;
  base64: string;
}

/** The watched record; partition, offset and timestamp are null from 2021 pods. */
export interface WatchedInput {
  topic: string;
  message: string;
  value: string;
  partition: number | null;
  offset: number | null;
  timestamp: number | null;
  headers: RecordHeader[];
}

export interface WatchedOperation {
  startTime: number;
  endTime: number;
  input: WatchedInput;
  actions: WatchedAction[];
  pod: { id: string; name: string } | null;
}

// ---- topics ----

const partRef = `__typename
  ... on Processor { id name component { id name service { id name } } }
  ... on Source { id component { id name service { id name } } }
  ... on Sink { id name component { id name service { id name } } }
  ... on View { id component { id name service { id name } } }
  ... on ViewSource { id name component { id name service { id name } } }
  ... on ViewSink { id name component { id name service { id name } } }`;

export const topicQuery = `query Topic($id: ID!) {
  topicById(id: $id) {
    id name message type recordsPerSecond
    messageSchema { name file service { id name } fields { name jsonName number type label keyType oneof } }
    producers { ${partRef} }
    consumers { ${partRef} }
    processorInputs { processor { id } }
    processorJoins { processor { id } }
    processorLookups { processor { id } }
    processorOutputs { processor { id } }
    processorPersistences { id }
    settings { partitions replicationFactor readAt error configs { name value isDefault source } }
    schemaConflicts { category rule message writer { id name } reader { id name } }
    consumerGroups(first: 50) { name state members lag processor { id name } }
  }
  kafka { topicSettingsReadAt topicSettingsError }
}`;

export interface PartRef {
  __typename: "Processor" | "Source" | "Sink" | "View" | "ViewSource" | "ViewSink";
  id: string;
  name?: string;
  component: Ref & { service: Ref };
}

export interface MessageField {
  name: string;
  jsonName: string;
  number: number;
  type: string;
  label: string;
  keyType: string | null;
  oneof: string | null;
}

export interface TopicData {
  topicById: {
    id: string;
    name: string;
    message: string;
    type: string;
    /** Written per second, measured from the brokers; null without --brokers. */
    recordsPerSecond: number | null;
    messageSchema: { name: string; file: string; service: Ref | null; fields: MessageField[] } | null;
    producers: PartRef[];
    consumers: PartRef[];
    processorInputs: { processor: { id: string } }[];
    processorJoins: { processor: { id: string } }[];
    processorLookups: { processor: { id: string } }[];
    processorOutputs: { processor: { id: string } }[];
    processorPersistences: { id: string }[];
    /** As the brokers report them; null without --brokers or when Kafka has no such topic. */
    settings: TopicSettings | null;
    /** Breaking differences between a writer's and a reader's schema (docs/contracts.md). */
    schemaConflicts: SchemaConflict[];
    /** The measured groups with offsets on this topic; empty without --brokers. */
    consumerGroups: TopicGroup[];
  } | null;
  /** Discovery's reads from the brokers; null without --brokers. */
  kafka: KafkaStatus | null;
}

export interface TopicGroup {
  name: string;
  state: string;
  members: number;
  /** Int64: a number, or a string past 2^53. */
  lag: number | string;
  processor: { id: string; name: string } | null;
}

export interface TopicConfig {
  name: string;
  /** null when the broker hides it (sensitive). */
  value: string | null;
  /** false when the value is set on the topic itself. */
  isDefault: boolean;
  /** TOPIC, BROKER, CLUSTER, STATIC_BROKER, DEFAULT or UNKNOWN. */
  source: string;
}

export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
  readAt: string;
  error: string | null;
  configs: TopicConfig[];
}

export interface KafkaStatus {
  topicSettingsReadAt: string | null;
  topicSettingsError: string | null;
}

export const topicsQuery = `query Topics {
  topics { id name message type producerServices { id name } consumerServices { id name } }
}`;

export interface TopicsData {
  topics: { id: string; name: string; message: string; type: string; producerServices: Ref[]; consumerServices: Ref[] }[];
}

// ---- pods ----

export const podsQuery = `query Pods {
  pods { id name namespace uid address source healthy firstSeen lastSeen lastScrape lastError service { id name } }
}`;

export interface PodsData {
  pods: {
    id: string;
    name: string;
    namespace: string;
    uid: string;
    address: string;
    source: string;
    healthy: boolean;
    firstSeen: string;
    lastSeen: string | null;
    lastScrape: string | null;
    lastError: string | null;
    service: Ref | null;
  }[];
}

// ---- search ----

export const searchQuery = `query Search($text: String!) {
  search(text: $text, limit: 20) {
    __typename
    ... on Service { id name }
    ... on Component { id name service { name } }
    ... on Processor { id name component { id name service { name } } }
    ... on Source { id component { id name service { name } } topic { name } }
    ... on Sink { id name component { id name service { name } } }
    ... on View { id component { id name service { name } } topic { name } }
    ... on ViewSource { id name component { id name service { name } } }
    ... on ViewSink { id name component { id name service { name } } }
    ... on Topic { id name message }
    ... on Pod { id name namespace }
  }
}`;

export interface SearchHit {
  __typename: string;
  id: string;
  name?: string;
  message?: string;
  namespace?: string;
  topic?: { name: string };
  service?: { name: string };
  component?: { id: string; name: string; service: { name: string } };
}

export interface SearchData {
  search: SearchHit[];
}

/** A breaking difference between the schemas a topic's writer and reader use. */
export interface SchemaConflict {
  category: string;
  rule: string;
  message: string;
  writer: Ref;
  reader: Ref;
}

export const meshStatusQuery = `query MeshStatus { meshStatus { stale since error readAt } }`;

export interface MeshStatusData {
  meshStatus: { stale: boolean; since: string | null; error: string | null; readAt: string | null };
}
