import Type from 'typebox'
import { DeviceTypeSchema } from '../../devices/kinds.ts'
const s = Type.Object({ a: Type.Optional(Type.Integer({ minimum: 1, default: 5 })), t: DeviceTypeSchema, e: Type.Enum(['x','y']), r: Type.Record(Type.String(), Type.Number()), n: Type.Union([Type.Number(), Type.Null()]) }, { additionalProperties: false })
console.log(JSON.stringify(s, null, 1))
console.log(Object.getOwnPropertySymbols(s), Object.keys(s))
