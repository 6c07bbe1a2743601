// Prints the layout of every request and response version known to the Kafka
// client jar on the classpath, one line each, in the canonical form that
// src/kafka/protocol/generate.py --canon prints for our own descriptions.
// Regenerate kafka_4_1_1_layouts.txt with:
//   CP=$(ls ~/.cache/millrace/kafka-4.1.1/libs/*.jar | tr "\n" :)
//   java -cp "$CP" tests/kafka/messages/DumpLayouts.java > all.txt   (then keep the keys and versions the 4.1.1 broker advertises)
import org.apache.kafka.common.message.*;
import org.apache.kafka.common.protocol.*;
import org.apache.kafka.common.protocol.types.*;
import java.util.*;
public class DumpLayouts {
  static String t(Type ty) throws Exception {
    if (ty instanceof Schema) return s((Schema) ty);
    if (ty instanceof TaggedFields) {
      java.lang.reflect.Field f = TaggedFields.class.getDeclaredField("fields"); f.setAccessible(true);
      Map<Integer, Field> m = (Map<Integer, Field>) f.get(ty);
      StringBuilder b = new StringBuilder("TAGS[");
      for (Map.Entry<Integer, Field> e : new TreeMap<>(m).entrySet()) b.append(e.getKey()).append("=").append(e.getValue().name).append(":").append(t(e.getValue().type)).append(";");
      return b.append("]").toString();
    }
    Optional<Type> el = ty.arrayElementType();
    if (el.isPresent()) {
      boolean compact = ty.toString().startsWith("COMPACT");
      return (compact ? "CARRAY" : "ARRAY") + (ty.isNullable() ? "?" : "") + "(" + t(el.get()) + ")";
    }
    return ty.toString();
  }
  static String s(Schema sc) throws Exception {
    StringBuilder b = new StringBuilder("{");
    for (BoundField bf : sc.fields()) b.append(bf.def.name).append(":").append(t(bf.def.type)).append(",");
    return b.append("}").toString();
  }
  public static void main(String[] a) throws Exception {
    for (ApiMessageType m : ApiMessageType.values()) {
      Schema[] rq = m.requestSchemas(); Schema[] rs = m.responseSchemas();
      for (int v = 0; v < rq.length; v++) if (rq[v] != null) System.out.println(m.apiKey() + " req " + v + " " + s(rq[v]));
      for (int v = 0; v < rs.length; v++) if (rs[v] != null) System.out.println(m.apiKey() + " rsp " + v + " " + s(rs[v]));
    }
  }
}
