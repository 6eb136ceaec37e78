export {
  BROKER_DIALECTS,
  BUILTIN_RULE_NAMES,
  DEFAULT_WATCHERS,
  BrokerSchema,
  BrokerwatchConfigSchema,
  RetentionSchema,
  RuleSchema,
  WebhookSchema,
  parseDuration,
} from "./schema";
export type {
  BrokerConfig,
  BrokerDialect,
  BrokerwatchConfig,
  BuiltinRuleName,
  RetentionConfig,
  RuleConfig,
  WebhookConfig,
} from "./schema";
export { ConfigError, loadConfigFile, parseConfig, resolveConfigPath } from "./load";
export type { ConfigIssue, ParseConfigOptions } from "./load";
