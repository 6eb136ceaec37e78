/**
 * Request bodies of the settings API that brokerwatch.yaml has no section for. They live in the
 * client-safe ./request-schemas so the settings forms can validate with the same schemas.
 */
export {
  BrokerTestSchema,
  password,
  PASSWORD_MIN_LENGTH,
  TokenCreateSchema,
  UserCreateSchema,
  UserPatchSchema,
} from "./request-schemas";
