import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { leadSearchAttributes } from '../../../workflows/search-attributes.js';

// temporal.api.enums.v1.IndexedValueType (the proto enum is not re-exported by the SDK packages).
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  [SearchAttributeType.TEXT]: 1,
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
  [SearchAttributeType.BOOL]: 5,
  [SearchAttributeType.DATETIME]: 6,
  [SearchAttributeType.KEYWORD_LIST]: 7,
};
const GRPC_ALREADY_EXISTS = 6;
const GRPC_UNIMPLEMENTED = 12;

/**
 * Makes sure the lead search attributes exist in the namespace (a workflow upserting an unknown
 * one fails its task) and returns the names it added. The dev server's `--search-attribute` flag
 * only takes effect on a new db file, so attributes added in a later version of Leadflow would be
 * missing after an upgrade; the time-skipping test server knows none and has no
 * ListSearchAttributes (UNIMPLEMENTED) but accepts AddSearchAttributes.
 */
export async function ensureLeadSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  let registered: Record<string, number> | undefined;
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    registered = response.customAttributes as Record<string, number>;
  } catch (error) {
    if (!(isGrpcServiceError(error) && error.code === GRPC_UNIMPLEMENTED)) throw error;
  }
  const mismatched = leadSearchAttributes.filter((key) => registered?.[key.name] !== undefined && registered[key.name] !== INDEXED_VALUE_TYPE[key.type]);
  if (mismatched.length) {
    throw new Error(
      `Search attribute(s) ${mismatched.map((key) => key.name).join(', ')} exist in namespace ${namespace} with another type than the lead workflow uses; ` +
        'on the dev server, delete its database file (DATA_DIR/temporal.db) to start afresh.',
    );
  }
  const missing = leadSearchAttributes.filter((key) => registered?.[key.name] === undefined);
  for (const key of missing) {
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [key.name]: INDEXED_VALUE_TYPE[key.type] } });
    } catch (error) {
      if (!(isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS)) throw error;
    }
  }
  return missing.map((key) => key.name);
}
